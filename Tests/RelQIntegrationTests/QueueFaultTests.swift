import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Queue traffic through server-side faults; each test has its own server.
@Suite("Queue faults", .serialized)
struct QueueFaultTests {
    @Test func scriptFlushMidStreamLosesNothing() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                let total = 3000
                let produced = Flag()
                let flushes = Counter()
                let delivered = Collector<String>()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { produced.set() }  // also on failure, or the other tasks would loop forever
                        for chunk in 0..<(total / 50) {
                            _ = try await retryingNoScript {
                                try await queue.enqueue(batch: (0..<50).map { .init(payload: [1], id: "m\(chunk * 50 + $0)") })
                            }
                        }
                    }
                    for _ in 0..<4 {
                        group.addTask {
                            var mine: [String] = []
                            while true {
                                let result = try await retryingNoScript { try await queue.dequeue(max: 20) }
                                if result.deliveries.isEmpty {
                                    if produced.isSet, try await retryingNoScript({ try await queue.stats() }).pending == 0 { break }
                                    try await Task.sleep(for: .milliseconds(1))
                                    continue
                                }
                                mine += result.deliveries.map(\.id)
                                let outcomes = try await retryingNoScript { try await queue.release(result.deliveries) }
                                #expect(outcomes.allSatisfy { $0 == .released })
                            }
                            delivered.append(contentsOf: mine)
                        }
                    }
                    group.addTask {
                        while !produced.isSet {
                            _ = try server.command("SCRIPT", "FLUSH")
                            flushes.add()
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                    try await group.waitForAll()
                }
                let ids = delivered.values
                #expect(flushes.current >= 2, "only \(flushes.current) flushes happened during the stream")
                #expect(ids.count == total)
                #expect(Set(ids) == Set((0..<total).map { "m\($0)" }))
                let stats = try await queue.stats()
                #expect(stats.pending == 0 && stats.working == 0 && stats.releasedTotal == total)
                print("scriptFlushMidStream: flushes=\(flushes.current) reloads=\(try commandCalls(server, "script|load"))")
            }
        }
    }
}

/// Runs `body`, again while it fails with `NOSCRIPT`: RelQ reloads a missing script and retries
/// exactly once, so a `SCRIPT FLUSH` landing between that reload and the retry reaches the caller
/// (nothing ran). Every call retried here is safe to repeat (ids, lease tokens, read-only).
func retryingNoScript<T>(_ body: () async throws -> T) async throws -> T {
    for _ in 0..<10 {
        do {
            return try await body()
        } catch let error as ReliableQueueError where error.redisErrorPrefix == "NOSCRIPT" {
            continue
        }
    }
    return try await body()
}
