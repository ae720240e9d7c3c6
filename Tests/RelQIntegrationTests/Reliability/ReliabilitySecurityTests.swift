import Foundation
import Logging
import RelQ
import RelQTesting
import Synchronization
import Testing

/// Least-privilege ACL profiles, secrets in errors and logs, user data never becoming a command,
/// and payload limits (docs/security.md).
@Suite(.serialized)
struct ReliabilitySecurityTests {
    /// The commands each role's scripts run (from `lua/*.lua`; `aclProfilesCoverTheScripts` keeps
    /// these lists honest), plus what the client itself sends.
    enum Profiles {
        /// Every connection: `EVALSHA`, `SCRIPT LOAD` (the cache is volatile: the client preloads and
        /// reloads after `NOSCRIPT`) and `CLIENT ID` (handshake).
        static let base = "-@all +evalsha +script|load +client|id"
        static let producer = ["hexists", "hget", "hincrby", "hlen", "hmget", "hset", "llen", "lpush", "rpush", "time", "zadd"]
        static let consumer = [
            "get", "hdel", "hexists", "hget", "hincrby", "hlen", "hmget", "hset", "incrby", "llen", "lpush", "pexpire", "pttl",
            "rpop", "rpush", "time", "zadd", "zcard", "zcount", "zrange", "zrangebyscore", "zrem", "zremrangebyscore", "zscore",
        ]
        /// Consumers also block on the signal list and unblock themselves when cancelled.
        static let consumerExtra = "+blpop +client|unblock"
        static let sweeper = ["hdel", "hget", "hincrby", "hmget", "hset", "llen", "lpush", "rpush", "time", "zadd", "zcard", "zrange", "zrangebyscore", "zrem"]
        /// Read-only: stats, inspect, peek, dead-letter list, all via `EVALSHA_RO`, read-only keys (`%R~`).
        static let readOnly = ["get", "hget", "hlen", "hmget", "hscan", "lindex", "llen", "lrange", "time", "zcard", "zcount", "zrange", "zscan", "zscore"]

        static func setUser(_ name: String, password: String, commands: [String], extra: String = "", readOnly: Bool = false) -> [String] {
            let keys = readOnly ? "%R~relq:*" : "~relq:*"
            let base = readOnly ? "-@all +evalsha_ro +script|load +client|id" : Self.base
            let text = "ACL SETUSER \(name) reset on >\(password) \(keys) resetchannels \(base) \(extra) " + commands.map { "+\($0)" }.joined(separator: " ")
            return text.split(separator: " ").map(String.init)
        }
    }

    /// The scripts a role runs, and the commands they call (`rcall('X'` and `chunked('X'`).
    static func commands(ofScripts names: [String]) throws -> Set<String> {
        let lua = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lua")
        var found: Set<String> = []
        for name in names {
            let source = try String(contentsOf: lua.appendingPathComponent("\(name).lua"), encoding: .utf8)
            for marker in ["rcall('", "chunked('", "redis.call('"] {
                for piece in source.components(separatedBy: marker).dropFirst() {
                    if let command = piece.split(separator: "'").first { found.insert(command.lowercased()) }
                }
            }
        }
        return found
    }

    @Test func aclProfilesCoverTheScripts() throws {
        #expect(try Self.commands(ofScripts: ["enqueue"]) == Set(Profiles.producer))
        #expect(try Self.commands(ofScripts: ["dequeue", "release", "release_dequeue", "requeue", "extend"]) == Set(Profiles.consumer))
        #expect(try Self.commands(ofScripts: ["sweep"]) == Set(Profiles.sweeper))
        #expect(try Self.commands(ofScripts: ["stats", "inspect", "peek", "dead_list"]) == Set(Profiles.readOnly))
    }

    /// Whether an error is an ACL refusal (direct `NOPERM`, or a script's inner command refused).
    static func isPermissionError(_ error: any Error) -> Bool {
        guard let error = error as? ReliableQueueError, error.code == .serverError else { return false }
        let text = error.message.lowercased()
        return text.contains("noperm") || text.contains("no permissions") || text.contains("can't run this command")
    }

    private func expectRefused(_ what: String, _ call: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await call()
            Issue.record("\(what) was allowed", sourceLocation: sourceLocation)
        } catch {
            #expect(Self.isPermissionError(error), "\(what): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aclProfilesAllowTheirJobAndRefuseEverythingElse() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let password = "pw-\(UUID().uuidString)"
        for (name, commands, extra, readOnly) in [
            ("relq-producer", Profiles.producer, "", false),
            ("relq-consumer", Profiles.consumer, Profiles.consumerExtra, false),
            ("relq-sweeper", Profiles.sweeper, "", false),
            ("relq-ro", Profiles.readOnly, "", true),
        ] {
            let reply = try RawRedis.command(port: server.port, args: Profiles.setUser(name, password: password, commands: commands, extra: extra, readOnly: readOnly))
            try #require(reply == .simple("OK"), "\(name): \(reply)")
        }
        _ = try server.command("SET", "outside", "keep")
        func url(_ user: String) -> String { "redis://\(user):\(password)@127.0.0.1:\(server.port)" }
        let producerClient = try Harness.client(url("relq-producer"))
        let consumerClient = try Harness.client(url("relq-consumer"))
        let sweeperClient = try Harness.client(url("relq-sweeper"))
        let readOnlyClient = try Harness.client(url("relq-ro"))
        defer { [producerClient, consumerClient, sweeperClient, readOnlyClient].forEach { $0.shutdown() } }
        let producer = try Harness.queue(producerClient, "acl", .init(leaseTimeout: .milliseconds(400)))
        let consumer = try Harness.queue(consumerClient, "acl", .init(leaseTimeout: .milliseconds(400)))
        let sweeper = try Harness.queue(sweeperClient, "acl", .init(leaseTimeout: .milliseconds(400)))
        let reader = try Harness.queue(readOnlyClient, "acl")

        // Each does its job.
        try await producer.enqueue(batch: (0..<4).map { .init(payload: [UInt8]("\($0)".utf8), id: "a-\($0)") })
        try await producer.enqueue(Array("later".utf8), id: "a-delayed", delay: .milliseconds(50))
        let first = try #require(try await consumer.dequeueOne(wait: .seconds(1)))
        try await consumer.extendLease(first)
        // Release and take the next in one script (release_dequeue).
        let second = try #require(try await consumer.releaseAndDequeue(first).next.deliveries.first)
        _ = try await consumer.requeue(second, delay: .milliseconds(10), error: "retry")
        let third = try #require(try await consumer.dequeueOne())
        try await consumer.giveBack(third)
        try await Task.sleep(for: .milliseconds(100))  // the delayed and requeued tasks come due
        let rest = try await consumer.dequeue(max: 10).deliveries
        #expect(rest.count == 4)
        #expect(try await consumer.dequeueOne(wait: .milliseconds(100)) == nil)  // blocks on the signal
        // With a live token: refused at the first forbidden command, before any write.
        await expectRefused("producer release") { try await producer.release(rest[0]) }
        await expectRefused("producer extend") { _ = try await producer.extendLease(rest[0]) }
        await expectRefused("sweeper release") { try await sweeper.release(rest[0]) }
        await expectRefused("producer release-and-dequeue") { _ = try await producer.releaseAndDequeue(rest[0]) }
        try await consumer.release(rest[0])  // untouched by the refused calls
        try await Task.sleep(for: .milliseconds(450))
        #expect(try await sweeper.sweepAll().recovered == 3)  // the 3 leases left to expire
        let stats = try await reader.stats()
        #expect(stats.enqueuedTotal == 5)
        _ = try await reader.task(id: "a-1")
        _ = try await reader.peek()
        _ = try await reader.deadLetters()

        // And nothing else.
        await expectRefused("producer dequeue") { _ = try await producer.dequeueOne() }
        await expectRefused("producer sweep") { _ = try await producer.sweep() }
        await expectRefused("sweeper dequeue") { _ = try await sweeper.dequeueOne() }
        await expectRefused("reader enqueue") { try await reader.enqueue([1], id: "r-1") }
        await expectRefused("reader sweep") { _ = try await reader.sweep() }
        await expectRefused("reader pause") { try await reader.pause() }
        for (user, client) in [("producer", producerClient), ("consumer", consumerClient), ("sweeper", sweeperClient), ("ro", readOnlyClient)] {
            await expectRefused("\(user) FLUSHALL") { _ = try await client.send("FLUSHALL") }
            await expectRefused("\(user) SCRIPT FLUSH") { _ = try await client.send("SCRIPT", "FLUSH") }
            await expectRefused("\(user) CONFIG GET") { _ = try await client.send("CONFIG", "GET", "requirepass") }
            await expectRefused("\(user) KEYS") { _ = try await client.send("KEYS", "*") }
            await expectRefused("\(user) EVAL") { _ = try await client.send("EVAL", "return 1", "0") }
            await expectRefused("\(user) GET outside") { _ = try await client.send("GET", "outside") }
            await expectRefused("\(user) DEL") { _ = try await client.send("DEL", "relq:{acl}:tasks") }
        }
        #expect(try server.command("GET", "outside").string == "keep")
        let denials = try server.command("ACL", "LOG", "100").array?.count ?? 0
        Harness.report("security-acl", [("profiles", 4), ("allowed_calls", 16), ("refused_calls", 9 + 4 * 7), ("acl_log_entries", denials)])
    }

    /// A `LogHandler` that keeps every rendered line, to check what the library logs.
    final class Lines: Sendable {
        let value = Mutex<[String]>([])
    }

    struct CapturingLogHandler: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let error = event.error.map { " error: \($0)" } ?? ""
            lines.value.withLock { $0.append("\(event.level) \(event.message) \(all)\(error)") }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func passwordsNeverAppearInErrorsOrLogs() async throws {
        let secret = "S3cr3t-\(UUID().uuidString)"
        let server = try await RedisServer.start(.init(password: secret))
        defer { server.stop() }
        let box = Lines()
        var logger = Logger(label: "relq.security") { _ in CapturingLogHandler(lines: box) }
        logger.logLevel = .trace
        var texts: [String] = []

        // Wrong password, right password, wrong user: errors and logs must not carry either secret.
        let wrong = "Wr0ng-\(UUID().uuidString)"
        for (user, password) in [(nil, wrong), ("nobody", secret), (nil, secret)] as [(String?, String)] {
            var configuration = RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: server.port), username: user, password: password)
            configuration.connectTimeout = .milliseconds(500)
            let client = try RedisClient(configuration: configuration, logger: logger)
            let queue = try ReliableQueue(name: "secrets", client: client, logger: logger)
            do {
                try await queue.enqueue(Array("x".utf8))
                _ = try await queue.dequeueOne()
            } catch {
                texts.append("\(error)")
                texts.append(String(reflecting: error))
            }
            client.shutdown()
        }
        for bad in ["redis://u:\(secret)@127.0.0.1:notaport", "redis://u:\(secret)@:6379", "redis://:\(secret)@127.0.0.1:1/x", "http://u:\(secret)@h"] {
            do { _ = try RedisConfiguration(url: bad) } catch { texts.append("\(error)") }
        }
        texts += box.value.withLock { $0 }
        #expect(texts.count > 5)
        let leaks = texts.filter { $0.contains(secret) || $0.contains(wrong) }
        Harness.report("security-secrets", [("messages_checked", texts.count), ("leaks", leaks.count)])
        #expect(leaks.isEmpty, "secrets leaked: \(leaks.prefix(3))")
        #expect(texts.contains { $0.contains("authenticationFailed") }, "\(texts.prefix(4))")
    }

    /// User data goes as argv (binary-safe bulk strings), never as command text: payloads and errors
    /// that look like RESP commands round-trip as data; ids and names that could are refused.
    @Test(.timeLimit(.minutes(1)))
    func userDataNeverBecomesACommand() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        _ = try server.command("SET", "victim", "alive")
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "inject", .init(maxAttempts: 1))
        let injection = "x\r\n*3\r\n$3\r\nDEL\r\n$6\r\nvictim\r\n*1\r\n$8\r\nFLUSHALL\r\n"
        let payloads: [[UInt8]] = [Array(injection.utf8), Array(0...255), Array("\0\r\n".utf8), []]
        for (index, payload) in payloads.enumerated() { try await queue.enqueue(payload, id: "inj-\(index)") }
        var roundTripped = 0
        for _ in payloads {
            let delivery = try #require(try await queue.dequeueOne())
            let index = try #require(Int(delivery.id.dropFirst(4)))
            #expect(delivery.payload == payloads[index])
            roundTripped += 1
            _ = try await queue.requeue(delivery, error: injection)  // maxAttempts 1: dead-lettered with this error
        }
        let dead = try await queue.deadLetters()
        #expect(dead.entries.count == payloads.count && dead.entries.allSatisfy { $0.lastError == injection })
        #expect(try server.command("GET", "victim").string == "alive")
        var refused = 0
        for id in ["a\r\nDEL victim", "a b", "x{y}", "", String(repeating: "a", count: 129), "é"] {
            do { try await queue.enqueue([1], id: id) } catch let error as ReliableQueueError where error.code == .invalidArgument { refused += 1 }
        }
        for name in ["a{b}", "a\r\nb", "q}x", ""] {
            if (try? Harness.queue(client, name)) == nil { refused += 1 }
        }
        Harness.report("security-injection", [("payloads_round_tripped", roundTripped), ("ids_and_names_refused", refused)])
        #expect(refused == 10)
        #expect(try server.command("GET", "victim").string == "alive")
    }

    /// Payloads over `maxPayloadBytes` are refused in Swift (no Redis call: the client points at a
    /// closed port), so Redis never sees a bulk over `proto-max-bulk-len`.
    @Test(.timeLimit(.minutes(1)))
    func oversizedPayloadsAreRefusedBeforeRedis() async throws {
        let closed = try await RedisServer.start()
        let url = closed.url
        closed.stop()
        let client = try Harness.client(url)
        defer { client.shutdown() }
        let small = try Harness.queue(client, "big", .init(maxPayloadBytes: 1024))
        let standard = try Harness.queue(client, "big")
        var codes: [ReliableQueueError.Code] = []
        for (queue, size) in [(small, 1025), (standard, (1 << 20) + 1)] {
            do { try await queue.enqueue([UInt8](repeating: 7, count: size)) } catch let error as ReliableQueueError { codes.append(error.code) }
        }
        do { try await small.enqueue([UInt8](repeating: 7, count: 1024)) } catch let error as ReliableQueueError { codes.append(error.code) }
        #expect(codes == [.invalidArgument, .invalidArgument, .connectionFailed])  // the last one was valid: it reached the network
        #expect(throws: ReliableQueueError.self) { _ = try Harness.queue(client, "big", .init(maxPayloadBytes: 600 << 20)) }
    }
}
