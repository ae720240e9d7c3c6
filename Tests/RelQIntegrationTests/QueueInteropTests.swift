import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// The Lua protocol is usable from redis-cli, and Swift reads what it wrote.
@Suite("Queue redis-cli interop")
struct QueueInteropTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs redis-cli with `arguments`; returns its stdout.
    private func redisCLI(_ port: Int, _ arguments: [String]) async throws -> String {
        let output = try await Subprocess.run("/usr/bin/redis-cli", arguments: ["-p", String(port)] + arguments, timeout: .seconds(20))
        #expect(output.status == 0, "redis-cli \(arguments.prefix(2)) exited \(output.status)")
        return output.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-cli")))
    func redisCLIEnqueueSwiftDequeue() async throws {
        try await withSharedQueue { queue, server in
            let source = try String(contentsOf: Self.root.appendingPathComponent("lua/enqueue.lua"), encoding: .utf8)
            let sha = try await redisCLI(server.port, ["SCRIPT", "LOAD", source])
            #expect(sha.count == 40, "\(sha)")
            let keys = ["pending", "delayed", "tasks", "state", "meta", "signal"].map { "relq:{\(queue.name)}:\($0)" }
            #expect(keys == QueueKeys(queue: queue.name).keys(for: LuaScripts.enqueue))
            let reply = try await redisCLI(server.port, ["EVALSHA", sha, "6"] + keys + ["2", "cli-1", "hello from redis-cli", "0", "", "3", "", "second", "0", "", ""])
            let lines = reply.split(separator: "\n").map(String.init)
            #expect(lines.count == 5 && lines[0] == "1" && lines[1] == "cli-1" && lines[2] == "1" && lines[4] == "1", "\(lines)")

            let deliveries = try await queue.dequeue(max: 2).deliveries
            #expect(deliveries.map(\.id) == ["cli-1", lines.count > 3 ? lines[3] : "?"])
            #expect(deliveries.map(\.payloadText) == ["hello from redis-cli", "second"])
            #expect(deliveries.first?.attempt == 1)
            // The per-task max attempts of 3 given by redis-cli holds.
            var delivery = try #require(deliveries.first)
            #expect(try await queue.requeue(delivery) == .requeued)
            delivery = try #require(try await queue.dequeueOne())
            #expect(try await queue.requeue(delivery) == .requeued)
            delivery = try #require(try await queue.dequeueOne())
            #expect(delivery.attempt == 3)
            #expect(try await queue.requeue(delivery) == .deadLettered)
        }
    }

    /// The short form (id, payload per task) as another client would send it; ids over 128 bytes
    /// are refused with nothing written.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-cli")))
    func redisCLIShortFormAndIDLimit() async throws {
        try await withSharedQueue { queue, server in
            let source = try String(contentsOf: Self.root.appendingPathComponent("lua/enqueue.lua"), encoding: .utf8)
            let sha = try await redisCLI(server.port, ["SCRIPT", "LOAD", source])
            let keys = QueueKeys(queue: queue.name).keys(for: LuaScripts.enqueue)
            let tooLong = String(repeating: "x", count: 129)
            let refused = try await redisCLI(server.port, ["EVALSHA", sha, "6"] + keys + ["2", "ok", "a", tooLong, "b"])
            #expect(refused.hasPrefix("-1") && refused.contains("at most 128 bytes"), "\(refused)")
            #expect(try await queue.stats().pending == 0)

            let reply = try await redisCLI(server.port, ["EVALSHA", sha, "6"] + keys + ["2", "short-1", "first", "", "second"])
            let lines = reply.split(separator: "\n").map(String.init)
            #expect(lines.count == 5 && lines[0] == "1" && lines[1] == "short-1" && lines[2] == "1" && lines[4] == "1", "\(lines)")
            // A wrong argument count for both forms is refused.
            let odd = try await redisCLI(server.port, ["EVALSHA", sha, "6"] + keys + ["2", "x", "y", "z"])
            #expect(odd.hasPrefix("-1"), "\(odd)")
            let deliveries = try await queue.dequeue(max: 5).deliveries
            #expect(deliveries.map(\.payloadText) == ["first", "second"])
            #expect(deliveries.first?.id == "short-1" && deliveries.allSatisfy { $0.attempt == 1 })

            // Only server ids: the short reply {2, first_id, n}; Swift then sees ids first, first + 1.
            let compact = try await redisCLI(server.port, ["EVALSHA", sha, "6"] + keys + ["2", "", "third", "", "fourth"])
            let parts = compact.split(separator: "\n").map(String.init)
            let first = try #require(parts.count == 3 && parts[0] == "2" && parts[2] == "2" ? Int(parts[1]) : nil, "\(parts)")
            let more = try await queue.dequeue(max: 5).deliveries
            #expect(more.map(\.id) == [String(first), String(first + 1)] && more.map(\.payloadText) == ["third", "fourth"])
            // Swift's own server-id enqueue and batch release take the short replies too.
            let ids = try await queue.enqueue(batch: [.init(payload: Array("fifth".utf8)), .init(payload: Array("sixth".utf8))]).map(\.id)
            #expect(ids == [String(first + 2), String(first + 3)])
            #expect(try await queue.release(deliveries + more) == Array(repeating: .released, count: 4))
            #expect(try await queue.release(deliveries) == [.notFound, .notFound])
        }
    }

    /// The encoding anchors (an empty field in `tasks` and `state`, a +inf member in `working`) keep
    /// small queues in hashed encodings and are never seen as tasks: not counted, delivered, swept
    /// or left behind by `deleteQueue`.
    @Test func encodingAnchorsAreInvisible() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(50))) { queue, server in
            let prefix = "relq:{\(queue.name)}:"
            for index in 0..<3 { try await queue.enqueue(text: "t\(index)") }
            let first = try await queue.dequeue(max: 2).deliveries
            #expect(first.count == 2)
            #expect(try server.command("OBJECT", "ENCODING", prefix + "leases").string == "skiplist")
            #expect(try server.command("OBJECT", "ENCODING", prefix + "tasks").string == "hashtable")
            // First deliveries with the queue's defaults write no state entry.
            #expect(try server.command("EXISTS", prefix + "state").int == 0)
            var stats = try await queue.stats()
            #expect(stats.pending == 1 && stats.working == 2)

            try await Task.sleep(for: .milliseconds(120))
            let swept = try await queue.sweep()
            #expect(swept.recovered == 2)
            #expect(try server.command("OBJECT", "ENCODING", prefix + "state").string == "hashtable")
            stats = try await queue.stats()
            #expect(stats.pending == 3 && stats.working == 0)

            let all = try await queue.dequeue(max: 10).deliveries
            #expect(Set(all.map(\.payloadText)) == ["t0", "t1", "t2"])
            #expect(try await queue.release(all).allSatisfy { $0 == .released })
            try await Task.sleep(for: .milliseconds(120))
            #expect(try await queue.sweep().recovered == 0)
            stats = try await queue.stats()
            #expect(stats.pending == 0 && stats.working == 0 && stats.delayed == 0 && stats.dead == 0)
            #expect(try await queue.dequeueOne() == nil)

            try await queue.deleteQueue()
            let left = try server.command("EXISTS", prefix + "leases", prefix + "state", prefix + "tasks").int
            #expect(left == 0)
        }
    }
}
