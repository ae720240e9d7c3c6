import Logging
import Testing

@testable import RelQ

@Suite("RedisConfiguration")
struct RedisConfigurationTests {
    @Test func plainHostAndPort() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1:6380")
        #expect(configuration.endpoint == .tcp(host: "127.0.0.1", port: 6380))
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
        #expect(configuration.database == 0)
    }

    @Test func defaultPortAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://redis.internal")
        #expect(configuration.endpoint == .tcp(host: "redis.internal", port: 6379))
        #expect(configuration.endpoint.description == "redis.internal:6379")
        #expect(try RedisConfiguration(url: "redis://h/").database == 0)
    }

    @Test func userPasswordAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://app:s%40cret%2Fx@db.example:7000/3")
        #expect(configuration.username == "app")
        #expect(configuration.password == "s@cret/x")
        #expect(configuration.database == 3)
        #expect(configuration.endpoint == .tcp(host: "db.example", port: 7000))
    }

    @Test func passwordOnly() throws {
        let colon = try RedisConfiguration(url: "redis://:pw@localhost:6390")
        #expect(colon.username == nil)
        #expect(colon.password == "pw")
        let bare = try RedisConfiguration(url: "redis://pw2@localhost")
        #expect(bare.username == nil)
        #expect(bare.password == "pw2")
        // An unencoded @ in the password: the last @ separates the host.
        let at = try RedisConfiguration(url: "redis://u:p@ss@localhost")
        #expect(at.password == "p@ss")
        #expect(at.endpoint == .tcp(host: "localhost", port: 6379))
    }

    @Test func ipv6Host() throws {
        let configuration = try RedisConfiguration(url: "redis://[::1]:6391/2")
        #expect(configuration.endpoint == .tcp(host: "::1", port: 6391))
        #expect(configuration.database == 2)
    }

    @Test func unixSocket() throws {
        let configuration = try RedisConfiguration(url: "unix:///var/run/redis.sock?db=4")
        #expect(configuration.endpoint == .unixSocket(path: "/var/run/redis.sock"))
        #expect(configuration.endpoint.description == "unix:/var/run/redis.sock")
        #expect(configuration.database == 4)
        #expect(try RedisConfiguration(url: "unix:///tmp/r.sock").database == 0)
    }

    static let secret = "Hunter2Secret"
    static let badURLs = [
        "http://u:\(secret)@localhost",
        "rediss://u:\(secret)@localhost",
        "u:\(secret)@localhost",
        "",
        "redis://u:\(secret)@localhost:0",
        "redis://u:\(secret)@localhost:65536",
        "redis://u:\(secret)@localhost:port",
        "redis://u:\(secret)@localhost:-1",
        "redis://u:\(secret)@",
        "redis://u:\(secret)@:6379",
        "redis://u:\(secret)@localhost/-1",
        "redis://u:\(secret)@localhost/x",
        "redis://u:\(secret)@[::1",
        "redis://u:\(secret)@[::1]:0",
        "unix://relative/path.sock",
        "unix:///tmp/r.sock?db=-2",
        "unix:///tmp/r.sock?db=x",
    ]

    @Test(arguments: badURLs)
    func badURLIsRejectedWithoutThePassword(url: String) {
        do {
            let configuration = try RedisConfiguration(url: url)
            Issue.record("accepted \(url): \(configuration.endpoint)")
        } catch let error as ReliableQueueError {
            #expect(error.code == .invalidArgument)
            #expect(!error.message.contains(Self.secret), "the message repeats the password: \(error.message)")
            #expect(!error.description.contains(Self.secret))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func defaults() {
        let configuration = RedisConfiguration()
        #expect(configuration.endpoint == .tcp(host: "127.0.0.1", port: 6379))
        #expect(configuration.connectTimeout == .seconds(2))
        #expect(configuration.commandTimeout == .seconds(5))
        #expect(configuration.poolSize == 2)
        #expect(configuration.maxBlockingConnections == 16)
    }

    @Test func invalidSettingsAreRejectedByTheClient() {
        var cases: [(String, RedisConfiguration)] = []
        func with(_ name: String, _ change: (inout RedisConfiguration) -> Void) {
            var configuration = RedisConfiguration()
            change(&configuration)
            cases.append((name, configuration))
        }
        with("poolSize 0") { $0.poolSize = 0 }
        with("poolSize 65") { $0.poolSize = 65 }
        with("commandTimeout 0") { $0.commandTimeout = .zero }
        with("connectTimeout negative") { $0.connectTimeout = .milliseconds(-1) }
        with("connectTimeout 2 days") { $0.connectTimeout = .seconds(2 * 86_400) }
        with("reconnectBackoffLimit 0") { $0.reconnectBackoffLimit = .zero }
        with("busyRetryLimit negative") { $0.busyRetryLimit = .seconds(-1) }
        with("maxBlockingConnections 0") { $0.maxBlockingConnections = 0 }
        with("database -1") { $0.database = -1 }
        with("clientName with space") { $0.clientName = "a b" }
        with("clientName empty") { $0.clientName = "" }
        for (name, configuration) in cases {
            #expect(throws: ReliableQueueError.self, "\(name)") { try configuration.validate() }
            do {
                _ = try RedisClient(configuration: configuration, logger: .init(label: "t"))
                Issue.record("RedisClient accepted \(name)")
            } catch let error as ReliableQueueError {
                #expect(error.code == .invalidArgument, "\(name): \(error)")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
        #expect(throws: Never.self) { try RedisConfiguration().validate() }
    }
}
