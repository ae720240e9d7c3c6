import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// The connection layer against the shared server: pipelining, binary safety, errors, AUTH,
/// database selection, client names, blocking commands, unreachable servers.
@Suite("Connection")
struct ConnectionTests {
    @Test func repliesStayMatchedUnder1000ConcurrentCallers() async throws {
        let server = try await SharedRedis.server()
        let prefix = uniqueName()
        try await withClient(server) { client in
            let mismatches = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        let key = "\(prefix):\(index)"
                        let value = "v-\(index)-\(UInt64.random(in: 0...UInt64.max))"
                        let set = try await client.send("SET", key, value)
                        let get = try await client.send("GET", key)
                        _ = try await client.send("INCR", "\(prefix):counter")
                        if set != .status("OK") || get.string != value { mismatches.add() }
                    }
                }
                try await group.waitForAll()
            }
            #expect(mismatches.current == 0)
            #expect(try await client.send("GET", "\(prefix):counter").int == 1000)
            // Independent check with RawRedis.
            #expect(try server.command("GET", "\(prefix):999").string?.hasPrefix("v-999-") == true)
            let keys = (0..<1000).map { "\(prefix):\($0)" } + ["\(prefix):counter"]
            #expect(try await client.send(RedisCommand(["DEL"] + keys)).int == 1001)
        }
    }

    @Test func binaryPayloadsRoundTrip() async throws {
        let server = try await SharedRedis.server()
        let prefix = uniqueName()
        var generator = SystemRandomNumberGenerator()
        let large = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let payloads: [[UInt8]] = [
            [], [0], [0, 0, 0], [0xFF], [0xFF, 0xFE, 0xFD], [0xC3, 0x28, 0xA0, 0xA1], [13, 10, 13, 10],
            Array(0...255), large,
        ]
        try await withClient(server) { client in
            for (index, payload) in payloads.enumerated() {
                let key = Array("\(prefix):\(index)".utf8)
                let set = try await client.send(RedisCommand(bytes: [Array("SET".utf8), key, payload]))
                #expect(set == .status("OK"))
                let get = try await client.send(RedisCommand(bytes: [Array("GET".utf8), key]))
                #expect(get == .bulk(payload), "payload \(index) (\(payload.count) bytes) changed")
                #expect(try await client.send(RedisCommand(bytes: [Array("STRLEN".utf8), key])).int == Int64(payload.count))
            }
            // What the server stored, read back by an independent client.
            let raw = try RawRedis.command(port: server.port, args: ["GET", "\(prefix):\(payloads.count - 1)"], timeout: .seconds(5))
            #expect(raw.bytes == large)
            _ = try await client.send(RedisCommand(["DEL"] + payloads.indices.map { "\(prefix):\($0)" }))
        }
    }

    @Test func errorRepliesMapToServerError() async throws {
        let server = try await SharedRedis.server()
        let key = uniqueName()
        try await withClient(server) { client in
            _ = try await client.send("SET", key, "string")
            let wrongType = await expectError(.serverError) { _ = try await client.send("LPUSH", key, "x") }
            #expect(wrongType?.message.hasPrefix("WRONGTYPE") == true, "\(String(describing: wrongType))")
            #expect(wrongType?.redisErrorPrefix == "WRONGTYPE")
            #expect(wrongType?.isOutcomeUnknown == false)
            let unknown = await expectError(.serverError) { _ = try await client.send("NOSUCHCOMMAND", "a") }
            #expect(unknown?.message.contains("unknown command") == true, "\(String(describing: unknown))")
            #expect(unknown?.redisErrorPrefix == "ERR")
            // The connection still works, replies still matched.
            #expect(try await client.send("PING") == .status("PONG"))
            #expect(try await client.send("GET", key).string == "string")
            _ = try await client.send("DEL", key)
        }
    }

    @Test func aclUserAuthenticatesAndWrongPasswordIsNotEchoed() async throws {
        let server = try await SharedRedis.server()
        let user = "relq-test-\(UInt32.random(in: 0...UInt32.max))"
        let password = "pw-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try server.command("ACL", "SETUSER", user, "on", ">\(password)", "~*", "+@all") == .simple("OK"))
        defer { _ = try? server.command("ACL", "DELUSER", user) }

        try await withClient(server, url: "redis://\(user):\(password)@127.0.0.1:\(server.port)") { (client: RedisClient) async throws in
            #expect(try await client.send("PING") == .status("PONG"))
            #expect(try await client.send("ACL", "WHOAMI").string == user)
        }

        let wrong = "WrongPassword-\(UInt32.random(in: 0...UInt32.max))"
        try await withClient(server, url: "redis://\(user):\(wrong)@127.0.0.1:\(server.port)") { client in
            let error = await expectError(.authenticationFailed) { _ = try await client.send("PING") }
            #expect(error?.message.contains(wrong) == false, "\(String(describing: error))")
            #expect(error?.description.contains(wrong) == false)
            #expect(error?.message.contains(user) == true)
        }
    }

    @Test func databaseFromURLAndClientName() async throws {
        let server = try await SharedRedis.server()
        let key = uniqueName()
        let name = "relq-db-\(UInt32.random(in: 0...UInt32.max))"
        try await withClient(server, url: "redis://127.0.0.1:\(server.port)/3", { $0.clientName = name }) { client in
            _ = try await client.send("SET", key, "in-db-3")
            #expect(try server.command("EXISTS", key).int == 0, "the key went to db 0")
            let fromDB3 = try server.command("EVAL", "redis.call('SELECT', '3') return redis.call('GET', KEYS[1])", "1", key)
            #expect(fromDB3.string == "in-db-3")
            let info = try await client.send("CLIENT", "INFO").string ?? ""
            #expect(info.contains(" db=3 "), "\(info)")
            #expect(info.contains(" name=\(name) "), "\(info)")
            let lines = try clientListLines(server, named: name)
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { $0.contains(" db=3 ") })
            _ = try await client.send("DEL", key)
        }
        #expect(await eventually("named connections closed after shutdown") { try clientListLines(server, named: name).isEmpty })
    }

    @Test func blockingDequeueDoesNotStallOtherTraffic() async throws {
        let server = try await SharedRedis.server()
        let name = "relq-blk-\(UInt32.random(in: 0...UInt32.max))"
        try await withClient(server, { $0.clientName = name }) { client in
            let queue = try makeQueue(client)
            defer { _ = try? RawRedis.command(port: server.port, args: ["UNLINK"] + queueKeys(queue.name)) }
            let started = ContinuousClock.now
            let waiter = Task { () -> (Delivery?, ContinuousClock.Instant) in
                let delivery = try await queue.dequeueOne(wait: .seconds(2))
                return (delivery, ContinuousClock.now)
            }
            let blocked = await eventually(timeout: .seconds(2), every: .milliseconds(5), "BLPOP in progress") {
                try clientListLines(server, named: name).contains { $0.contains(" cmd=blpop ") }
            }
            try #require(blocked)
            let (_, setsTook) = try await measure {
                for index in 0..<100 { _ = try await client.send("SET", "\(queue.name):k\(index)", "v") }
            }
            #expect(setsTook < .seconds(1), "100 SETs took \(setsTook) while a BLPOP was blocked")
            _ = try await client.send(RedisCommand(["DEL"] + (0..<100).map { "\(queue.name):k\($0)" }))

            let enqueuedAt = ContinuousClock.now
            try await queue.enqueue(text: "wake up", id: "w1")
            let (delivery, returnedAt) = try await waiter.value
            #expect(delivery?.id == "w1")
            #expect(delivery?.payloadText == "wake up")
            #expect(returnedAt - enqueuedAt < .milliseconds(500), "woke \(returnedAt - enqueuedAt) after the enqueue")
            #expect(returnedAt - started < .milliseconds(1800), "the wait ran to its end: \(returnedAt - started)")
            if let delivery { try await queue.release(delivery) }
        }
    }

    @Test func closedPortFailsFastWithConnectionFailed() async throws {
        let port = try await closedPort()
        try await withClient(try await SharedRedis.server(), url: "redis://127.0.0.1:\(port)", { $0.connectTimeout = .seconds(2) }) { client in
            for _ in 0..<3 {
                let (error, took) = await measure { await expectError(.connectionFailed) { _ = try await client.send("PING") } }
                #expect(took < .seconds(1), "a refused connect took \(took)")
                #expect(error?.isOutcomeUnknown == false)
                #expect(error?.message.contains("127.0.0.1:\(port)") == true)
            }
            let queue = try makeQueue(client)
            await expectError(.connectionFailed) { try await queue.enqueue(text: "x") }
        }
    }

    @Test func shutdownClientRefusesCommands() async throws {
        let server = try await SharedRedis.server()
        let client = try RedisClient(url: server.url, logger: testLogger)
        #expect(try await client.send("PING") == .status("PONG"))
        client.shutdown()
        await expectError(.shutdown) { _ = try await client.send("PING") }
    }

    @Test func scriptShasMatchTheEmbeddedOnes() async throws {
        let server = try await SharedRedis.server()
        try await withClient(server) { (client: RedisClient) async throws in
            for script in LuaScripts.all {
                #expect(try await client.send(script.loadCommand).string == script.sha1, "\(script.name)")
            }
        }
    }
}
