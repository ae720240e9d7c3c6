import Foundation
import RelQTesting
import Testing

/// Self-tests of the RelQTesting helpers: RedisServer, RawRedis and FaultProxy.
@Suite(.serialized)
struct RelQTestingSelfTests {
    /// Runs `body` and returns the RelQTestingError it throws (fails the test if it doesn't).
    private func expectError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> RelQTestingError? {
        do {
            try body()
            Issue.record("expected a RelQTestingError", sourceLocation: sourceLocation)
        } catch let error as RelQTestingError {
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    @Test func serverStartsAnswersPingAndStopCleansUp() async throws {
        let server = try await RedisServer.start()
        let pid = try #require(server.pid)
        #expect(server.url == "redis://127.0.0.1:\(server.port)")
        #expect(FileManager.default.fileExists(atPath: server.directory))
        let reply = try RawRedis.command(port: server.port, args: ["PING"])
        #expect(reply == .simple("PONG"))
        #expect(try server.command("ECHO", "héllo\r\n").string == "héllo\r\n")
        server.stop()
        server.stop()  // idempotent
        #expect(server.pid == nil)
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
        #expect(!FileManager.default.fileExists(atPath: server.directory))
        #expect(expectError { _ = try RawRedis.command(port: server.port, args: ["PING"]) }?.code == .connectionFailed)
    }

    @Test func killThenRestartKeepsAOFData() async throws {
        try await RedisServer.withServer(.init(appendOnly: true, appendFsync: "always")) { server in
            #expect(try server.command("SET", "relq-selftest", "survives") == .simple("OK"))
            let firstPID = server.pid
            server.kill()
            #expect(server.pid == nil)
            #expect(expectError { try server.command("PING") }?.code == .connectionFailed)
            try await server.restart()
            #expect(server.pid != nil && server.pid != firstPID)
            #expect(try server.command("GET", "relq-selftest").string == "survives")
            // A clean shutdown + restart keeps the data too.
            server.shutdown()
            try await server.restart()
            #expect(try server.command("GET", "relq-selftest").string == "survives")
        }
    }

    @Test func twoServersGetDistinctPortsAndDirectories() async throws {
        try await RedisServer.withServer { first in
            try await RedisServer.withServer { second in
                #expect(first.port != second.port)
                #expect(first.directory != second.directory)
                try first.command("SET", "k", "1")
                #expect(try second.command("EXISTS", "k").int == 0)
                #expect(try first.command("EXISTS", "k").int == 1)
            }
        }
    }

    @Test func passwordServerRequiresAuth() async throws {
        try await RedisServer.withServer(.init(password: "s3cret")) { server in
            #expect(server.url == "redis://:s3cret@127.0.0.1:\(server.port)")
            #expect(try server.command("PING") == .simple("PONG"))
            let unauthenticated = try RawRedis.command(port: server.port, args: ["PING"])
            #expect(unauthenticated.errorMessage?.hasPrefix("NOAUTH") == true)
            let wrong = try RawRedis.command(port: server.port, password: "nope", args: ["PING"])
            #expect(wrong.isError)
        }
    }

    @Test func freezeMakesCallsTimeOutAndThawResumes() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            server.freeze()
            #expect(server.isFrozen)
            #expect(expectError { try server.command("PING", timeout: .milliseconds(300)) }?.code == .timeout)
            server.thaw()
            #expect(try server.command("PING") == .simple("PONG"))
        }
    }

    @Test func wrongExecutablePathGivesClearError() async throws {
        do {
            _ = try await RedisServer.start(.init(executablePath: "/nonexistent/redis-server"))
            Issue.record("start should fail")
        } catch let error as RelQTestingError {
            #expect(error.code == .executableNotFound)
            #expect(error.message.contains("/nonexistent/redis-server"))
        }
        do {
            _ = try await RedisServer.start(.init(appendFsync: "sometimes"))
            Issue.record("start should fail")
        } catch let error as RelQTestingError {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func badArgumentFailsWithLogTail() async throws {
        do {
            _ = try await RedisServer.start(.init(extraArguments: ["--no-such-option", "1"]))
            Issue.record("start should fail")
        } catch let error as RelQTestingError {
            #expect(error.code == .serverStartFailed)
            #expect(error.message.contains("no-such-option"))
        }
    }

    @Test func proxyPassForwardsSetAndGet() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server)
            defer { proxy.stop() }
            #expect(proxy.port != server.port)
            #expect(try RawRedis.command(port: proxy.port, args: ["SET", "via-proxy", "yes"]) == .simple("OK"))
            #expect(try RawRedis.command(port: proxy.port, args: ["GET", "via-proxy"]).string == "yes")
            #expect(try server.command("GET", "via-proxy").string == "yes")
            let stats = proxy.stats
            #expect(stats.accepted == 2)
            #expect(stats.bytesToTarget > 0 && stats.bytesToClient > 0)
        }
    }

    /// Starts a blocking `BLPOP` through the proxy, runs `fault`, and returns the call's error.
    private func blockedCallError(proxy: FaultProxy, fault: @Sendable () -> Void) async throws -> RelQTestingError? {
        let port = proxy.port
        let call = Task.detached { () -> RelQTestingError? in
            do {
                _ = try RawRedis.command(port: port, args: ["BLPOP", "relq-nothing", "5"], timeout: .seconds(4))
                return nil
            } catch let error as RelQTestingError {
                return error
            } catch {
                return nil
            }
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while proxy.stats.live == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        fault()
        let error = await call.value
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(proxy.stats.live == 0)
        return error
    }

    @Test func proxyDropAllFailsLiveCall() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server)
            defer { proxy.stop() }
            let error = try await blockedCallError(proxy: proxy) { proxy.dropAll() }
            #expect(error?.code == .connectionClosed)
            // New connections still work.
            #expect(try RawRedis.command(port: proxy.port, args: ["PING"]) == .simple("PONG"))
        }
    }

    @Test func proxyResetAllFailsLiveCallWithReset() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server)
            defer { proxy.stop() }
            let error = try await blockedCallError(proxy: proxy) { proxy.resetAll() }
            #expect(error?.code == .connectionClosed)
            #expect(error?.message.contains("reset") == true)
        }
    }

    @Test func proxyBlackholeTimesOutThenRecovers() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server, mode: .blackhole)
            defer { proxy.stop() }
            let start = ContinuousClock.now
            let error = expectError { _ = try RawRedis.command(port: proxy.port, args: ["PING"], timeout: .milliseconds(300)) }
            #expect(error?.code == .timeout)
            #expect(ContinuousClock.now - start >= .milliseconds(290))
            proxy.mode = .pass
            #expect(try RawRedis.command(port: proxy.port, args: ["PING"]) == .simple("PONG"))
        }
    }

    @Test func proxyRefuseClosesNewConnections() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server)
            defer { proxy.stop() }
            proxy.mode = .refuse
            #expect(expectError { _ = try RawRedis.command(port: proxy.port, args: ["PING"]) }?.code == .connectionClosed)
            #expect(proxy.stats.accepted == 1)
            #expect(proxy.stats.live == 0)
            proxy.mode = .pass
            #expect(try RawRedis.command(port: proxy.port, args: ["PING"]) == .simple("PONG"))
        }
    }

    @Test func proxyDelayDelaysEachDirection() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server, mode: .delay(.milliseconds(150)))
            defer { proxy.stop() }
            let start = ContinuousClock.now
            #expect(try RawRedis.command(port: proxy.port, args: ["PING"]) == .simple("PONG"))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(1))
        }
    }

    @Test func proxyStopIsIdempotentAndClosesPort() async throws {
        try await RedisServer.withServer { (server: RedisServer) async throws in
            let proxy = try FaultProxy.start(target: server)
            let port = proxy.port
            #expect(try RawRedis.command(port: port, args: ["PING"]) == .simple("PONG"))
            proxy.stop()
            proxy.stop()
            #expect(expectError { _ = try RawRedis.command(port: port, args: ["PING"]) }?.code == .connectionFailed)
        }
    }
}
