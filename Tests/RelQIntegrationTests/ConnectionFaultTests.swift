import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Faults on the connection: each test has its own server.
@Suite("Connection faults", .serialized)
struct ConnectionFaultTests {
    @Test func idleConnectionKillIsTransparent() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server, { $0.poolSize = 1 }) { client in
                #expect(try await client.send("PING") == .status("PONG"))
                let idBefore = try await client.send("CLIENT", "ID").int
                // Make the connection idle (the library checks an idle socket for a close before
                // using it once it has been idle for more than 1 ms), as after an idle timeout.
                try await Task.sleep(for: .milliseconds(20))
                let killed = try server.command("CLIENT", "KILL", "TYPE", "normal")
                #expect((killed.int ?? 0) >= 1, "\(killed)")
                // The very next command succeeds, on a new connection.
                #expect(try await client.send("PING") == .status("PONG"))
                let idAfter = try await client.send("CLIENT", "ID").int
                #expect(idAfter != idBefore)
                let queue = try makeQueue(client)
                try await queue.enqueue(text: "after kill")
                #expect(try await queue.dequeueOne()?.payloadText == "after kill")
            }
        }
    }

    /// A kill within the library's 1 ms idle window is not detected before the write: the next
    /// command fails as outcome-unknown (never hangs, never crashes) and the one after succeeds.
    @Test func killRightAfterUseFailsOneCommandAtMost() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server, { $0.poolSize = 1 }) { client in
                var lostFirst = 0
                for _ in 0..<5 {
                    #expect(try await client.send("PING") == .status("PONG"))
                    _ = try server.command("CLIENT", "KILL", "TYPE", "normal")
                    do {
                        #expect(try await client.send("PING") == .status("PONG"))
                    } catch let error as ReliableQueueError {
                        #expect(error.isOutcomeUnknown, "\(error)")
                        lostFirst += 1
                    }
                    #expect(try await client.send("PING") == .status("PONG"))
                }
                print("killRightAfterUse: \(lostFirst) of 5 first commands after the kill failed")
            }
        }
    }

    @Test func recoversAfterRedisRestart() async throws {
        try await RedisServer.withServer(.init(appendOnly: true, appendFsync: "always")) { server in
            try await withClient(server, { $0.reconnectBackoffLimit = .milliseconds(100) }) { client in
                let queue = try makeQueue(client)
                try await queue.enqueue(text: "survives", id: "before")
                server.kill()
                let (error, took) = await measure { () -> (any Error)? in
                    do { _ = try await client.send("PING"); return nil } catch { return error }
                }
                let code = (error as? ReliableQueueError)?.code
                #expect(code == .connectionFailed || code == .connectionLost, "while down: \(String(describing: error))")
                #expect(took < .seconds(3))

                try await server.restart()
                #expect(try server.command("SCRIPT", "EXISTS", LuaScripts.dequeue.sha1).array == [.integer(0)], "the script cache survived a restart?")
                let back = await eventually(timeout: .seconds(10), every: .milliseconds(50), "PING after restart") {
                    try await client.send("PING") == .status("PONG")
                }
                try #require(back)
                // Scripts work again (loaded by the reconnect warm-up or by NOSCRIPT → SCRIPT LOAD).
                let delivery = try #require(try await queue.dequeueOne())
                #expect(delivery.id == "before")
                #expect(delivery.payloadText == "survives")
                try await queue.release(delivery)
                try await queue.enqueue(text: "new", id: "after")
                #expect(try await queue.dequeueOne()?.id == "after")
            }
        }
    }

    @Test func scriptFlushCostsExactlyOneReload() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server, { $0.poolSize = 1 }) { client in
                let queue = try makeQueue(client)
                try await queue.enqueue(text: "warm")  // connects (and loads scripts) first
                let before = try commandCalls(server, "script|load")
                #expect(try server.command("SCRIPT", "FLUSH") == .simple("OK"))
                #expect(try server.command("SCRIPT", "EXISTS", LuaScripts.enqueue.sha1).array == [.integer(0)])

                let noscriptBefore = try commandCalls(server, "evalsha")
                try await queue.enqueue(text: "after flush", id: "f1")
                #expect(try commandCalls(server, "script|load") - before == 1, "one SCRIPT LOAD for one script")
                #expect(try commandCalls(server, "evalsha") - noscriptBefore == 2, "EVALSHA (NOSCRIPT) then EVALSHA again")
                #expect(try server.command("SCRIPT", "EXISTS", LuaScripts.enqueue.sha1, LuaScripts.dequeue.sha1).array == [.integer(1), .integer(0)])

                // The next call of the same script costs nothing more; another script loads once.
                try await queue.enqueue(text: "again")
                #expect(try commandCalls(server, "script|load") - before == 1)
                let deliveries = try await queue.dequeue(max: 10).deliveries
                #expect(deliveries.map(\.payloadText) == ["warm", "after flush", "again"])
                #expect(try commandCalls(server, "script|load") - before == 2)
            }
        }
    }

    @Test func commandTimeoutDuringDebugSleep() async throws {
        try await RedisServer.withServer(.init(enableDebugCommand: true)) { server in
            try await withClient(server, { $0.commandTimeout = .milliseconds(200); $0.poolSize = 1 }) { client in
                #expect(try await client.send("PING") == .status("PONG"))
                let port = server.port
                let sleeper = Task.detached { try RawRedis.command(port: port, args: ["DEBUG", "SLEEP", "1"], timeout: .seconds(5)) }
                // The server is asleep once a raw PING gets no answer.
                let asleep = await eventually(timeout: .seconds(2), every: .milliseconds(1), "server asleep") {
                    do {
                        _ = try RawRedis.command(port: port, args: ["PING"], timeout: .milliseconds(40))
                        return false
                    } catch let error as RelQTestingError where error.code == .timeout {
                        return true
                    }
                }
                try #require(asleep)
                let (error, took) = await measure { await expectError(.timeout) { _ = try await client.send("PING") } }
                #expect(error?.isOutcomeUnknown == true)
                #expect(took < .milliseconds(400), "the timeout took \(took)")
                #expect(took >= .milliseconds(150), "timed out before the command timeout: \(took)")
                #expect(try await sleeper.value == .simple("OK"))
                // Commands work again afterwards.
                #expect(try await client.send("PING") == .status("PONG"))
                #expect(try await client.send("ECHO", "x").string == "x")
            }
        }
    }

    @Test func clientKillUnderLoadKeepsTheProcessAlive() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let stop = Flag()
                let succeeded = Counter()
                let incrOK = Counter()
                let failures = Collector<ReliableQueueError>()
                let otherFailures = Collector<String>()
                let workers = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in 0..<16 {
                            group.addTask {
                                var index = 0
                                while !stop.isSet {
                                    index += 1
                                    do {
                                        if index % 2 == 0 {
                                            _ = try await client.send("INCR", "counter")
                                            incrOK.add()
                                        } else {
                                            _ = try await client.send("SET", "w\(worker)", String(repeating: "x", count: 2000))
                                        }
                                        succeeded.add()
                                    } catch let error as ReliableQueueError {
                                        failures.append(error)
                                    } catch {
                                        otherFailures.append("\(error)")
                                    }
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                var kills = 0
                for _ in 0..<8 {
                    let floor = succeeded.current + 200
                    await eventually(timeout: .seconds(5), every: .milliseconds(2), "traffic flowing") { succeeded.current >= floor }
                    let reply = try server.command("CLIENT", "KILL", "TYPE", "normal")
                    kills += reply.int ?? 0
                }
                let afterKills = succeeded.current
                await eventually(timeout: .seconds(5), "traffic after the kills") { succeeded.current >= afterKills + 500 }
                stop.set()
                try await workers.value

                #expect(kills >= 8, "CLIENT KILL killed \(kills) connections")
                #expect(otherFailures.values.isEmpty, "\(otherFailures.values.prefix(3))")
                let unexpected = failures.values.filter { !$0.isOutcomeUnknown }
                #expect(unexpected.isEmpty, "failures that are not outcome-unknown: \(unexpected.prefix(3))")
                // Every successful INCR counted; failed ones may or may not have run.
                let counter = try #require(try server.command("GET", "counter").string.flatMap { Int($0) })
                let unknownIncrs = failures.values.count
                #expect(counter >= incrOK.current && counter <= incrOK.current + unknownIncrs,
                        "counter \(counter), acknowledged \(incrOK.current), unknown \(unknownIncrs)")
                #expect(try await client.send("PING") == .status("PONG"))
                print("clientKillUnderLoad: kills=\(kills) ok=\(succeeded.current) failed=\(failures.values.count)")
            }
        }
    }
}
