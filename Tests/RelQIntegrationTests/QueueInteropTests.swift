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
}
