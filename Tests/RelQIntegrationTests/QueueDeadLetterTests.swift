import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// The dead-letter queue: listing, retry, purge and retention.
@Suite("Queue dead letters")
struct QueueDeadLetterTests {
    /// Enqueues `ids` and dead-letters each (maxAttempts must be 1), in order.
    private func killAll(_ queue: ReliableQueue, _ ids: [String]) async throws -> [ReliableQueue.RequeueOutcome] {
        try await queue.enqueue(batch: ids.map { .init(payload: Array("payload-\($0)".utf8), id: $0) })
        var outcomes: [ReliableQueue.RequeueOutcome] = []
        for delivery in try await queue.dequeue(max: ids.count).deliveries {
            outcomes.append(try await queue.requeue(delivery, error: "failed \(delivery.id)"))
        }
        return outcomes
    }

    @Test func listPagesRetryAndPurge() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1, deadLetterMaxCount: nil)) { queue, _ in
            let ids = (0..<7).map { "d\($0)" }
            #expect(try await killAll(queue, ids) == Array(repeating: .deadLettered, count: 7))

            var paged: [DeadLetter] = []
            for offset in stride(from: 0, to: 9, by: 3) {
                let page = try await queue.deadLetters(offset: offset, limit: 3)
                #expect(page.total == 7)
                paged += page.entries
            }
            #expect(paged.map(\.id) == ids, "oldest first, no gaps or repeats")
            #expect(paged.allSatisfy { $0.attempts == 1 && $0.lastError == "failed \($0.id)" && $0.payload == Array("payload-\($0.id)".utf8) })
            #expect(try await queue.deadLetters(offset: 7, limit: 3).entries.isEmpty)

            // Retry one: back to pending with a fresh attempt count.
            #expect(try await queue.retryDeadLetters(ids: ["d2", "not-dead"]) == 1)
            let retried = try #require(try await queue.dequeueOne())
            #expect(retried.id == "d2" && retried.attempt == 1)
            try await queue.release(retried)

            // Purge two, then retry the rest.
            #expect(try await queue.purgeDeadLetters(ids: ["d0", "d1"]) == 2)
            #expect(try await queue.task(id: "d0") == nil)
            #expect(try await queue.deadLetters().total == 4)
            #expect(try await queue.retryAllDeadLetters() == 4)
            let back = try await queue.dequeue(max: 10).deliveries
            #expect(Set(back.map(\.id)) == ["d3", "d4", "d5", "d6"])
            #expect(back.allSatisfy { $0.attempt == 1 })
            for delivery in back { _ = try await queue.requeue(delivery) }
            #expect(try await queue.purgeAllDeadLetters() == 4)
            let stats = try await queue.stats()
            #expect(stats.dead == 0 && stats.pending == 0 && stats.working == 0)
        }
    }

    @Test func retentionByCountKeepsTheNewest() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1, deadLetterMaxCount: 5)) { queue, _ in
            let ids = (0..<8).map { "d\($0)" }
            #expect(try await killAll(queue, ids) == Array(repeating: .deadLettered, count: 8))
            let page = try await queue.deadLetters()
            #expect(page.total == 5)
            #expect(page.entries.map(\.id) == ["d3", "d4", "d5", "d6", "d7"])
            #expect(try await queue.task(id: "d0") == nil, "trimmed dead letters keep no data")
            #expect(try await queue.stats().deadLetteredTotal == 8)
        }
    }

    @Test func sweepAppliesRetentionByAge() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1, deadLetterMaxCount: nil, deadLetterMaxAge: .milliseconds(200))) { queue, _ in
            _ = try await killAll(queue, ["old1", "old2"])
            #expect(try await queue.deadLetters().total == 2)
            await eventually(timeout: .seconds(3), every: .milliseconds(20), "old dead letters trimmed") {
                _ = try await queue.sweep()
                return try await queue.deadLetters().total == 0
            }
            #expect(try await queue.task(id: "old1") == nil)
        }
    }
}
