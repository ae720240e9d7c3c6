import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// `releaseAndDequeue`: a release and a dequeue in one script call (`lua/release_dequeue.lua`),
/// each with exactly the semantics it has alone.
@Suite("Release and dequeue in one call", .serialized)
struct ReleaseAndDequeueTests {
    @Test func releasesAndLeasesTheNextInOneScriptCall() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client, configuration: .init(leaseTimeout: .seconds(20)))
                _ = try await queue.enqueue(batch: ["a", "b", "c"].map { (id: String) in .init(payload: Array("task \(id)".utf8), id: id) })
                let first = try #require(try await queue.dequeueOne())
                #expect(first.id == "a")
                let before = try commandCalls(server, "evalsha")
                let result = try await queue.releaseAndDequeue(first)
                #expect(try commandCalls(server, "evalsha") - before == 1, "one script call for both")
                #expect(result.outcomes == [.released])
                let next = try #require(result.next.deliveries.first)
                #expect(result.next.deliveries.count == 1 && result.next.reason == nil)
                #expect(next.id == "b" && next.payload == Array("task b".utf8) && next.attempt == 1)
                #expect(next.lease.token == first.lease.token + 1)
                #expect(next.lease.deadline.duration(since: next.deliveredAt) == .seconds(20))
                #expect(try await queue.task(id: "a") == nil, "the released task's data is gone")
                #expect(try await queue.task(id: "b")?.time == next.lease.deadline)
                let stats = try await queue.stats()
                #expect(stats.pending == 1 && stats.working == 1 && stats.releasedTotal == 1 && stats.dequeuedTotal == 2)

                // The last task: released, and nothing left to take.
                let last = try #require(try await queue.releaseAndDequeue(next).next.deliveries.first)
                let end = try await queue.releaseAndDequeue(last)
                #expect(end.outcomes == [.released] && end.next.deliveries.isEmpty && end.next.reason == .empty)
                #expect(try await queue.stats().working == 0)
                try await queue.deleteQueue()
            }
        }
    }

    @Test func survivesAScriptCacheFlush() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                _ = try await queue.enqueue(batch: (0..<3).map { .init(payload: [UInt8($0)], id: "f\($0)") })
                let first = try #require(try await queue.dequeueOne())
                _ = try server.command("SCRIPT", "FLUSH")  // as after a Redis restart: NOSCRIPT, load, retry
                let before = try commandCalls(server, "script|load")
                let result = try await queue.releaseAndDequeue(first)
                #expect(result.outcomes == [.released] && result.next.deliveries.first?.id == "f1")
                #expect(try commandCalls(server, "script|load") - before == 1, "the composed script was loaded once")
                try await queue.deleteQueue()
            }
        }
    }

    @Test func aStaleReleaseChangesNothingAndStillDeliversTheNext() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(100))) { queue, _ in
            _ = try await queue.enqueue(batch: ["x", "y"].map { .init(payload: Array($0.utf8), id: $0) })
            let stale = try #require(try await queue.dequeueOne())
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await queue.sweep().recovered == 1)
            let again = try #require(try await queue.dequeueOne())  // y: x went to the back
            #expect(again.id == "y")
            let result = try await queue.releaseAndDequeue(stale)
            #expect(result.outcomes == [.staleLease])
            let next = try #require(result.next.deliveries.first)
            #expect(next.id == "x" && next.attempt == 2 && next.lease.token > stale.lease.token)
            // The stale call released nothing: the new lease on x still finishes it.
            let gone = try await queue.releaseAndDequeue(next)
            #expect(gone.outcomes == [.released])
            #expect(try await queue.releaseAndDequeue(next).outcomes == [.notFound], "a retried ack finds the task gone")
            #expect(try await queue.release([again]) == [.released])
            #expect(try await queue.stats().releasedTotal == 2)
        }
    }

    @Test func theReleaseFreesItsSlotUnderAWorkingLimitAndThrottlingIsReported() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.setLimits(.init(workingLimit: 1))
            _ = try await queue.enqueue(batch: (0..<3).map { .init(payload: [UInt8($0)], id: "w\($0)") })
            let first = try #require(try await queue.dequeueOne())
            #expect(try await queue.dequeueOne() == nil, "the working limit holds")
            // Release first, then dequeue: the slot the release frees is taken in the same call.
            let second = try #require(try await queue.releaseAndDequeue(first).next.deliveries.first)
            #expect(second.id == "w1")
            try await queue.pause()
            let paused = try await queue.releaseAndDequeue(second)
            #expect(paused.outcomes == [.released] && paused.next.deliveries.isEmpty && paused.next.reason == .paused)
            try await queue.resume()
            let stats = try await queue.stats()
            #expect(stats.pending == 1 && stats.working == 0 && stats.releasedTotal == 2)
        }
    }

    @Test func batchFormReleasesManyAndTakesUpToMax() async throws {
        try await withSharedQueue { queue, _ in
            _ = try await queue.enqueue(batch: (0..<12).map { .init(payload: [UInt8($0)], id: "b\($0)") })
            let held = try await queue.dequeue(max: 5).deliveries
            let result = try await queue.releaseAndDequeue(held, max: 4)
            #expect(result.outcomes == Array(repeating: .released, count: 5))
            #expect(result.next.deliveries.map(\.id) == ["b5", "b6", "b7", "b8"])
            let rest = try await queue.releaseAndDequeue(result.next.deliveries, max: 10)
            #expect(rest.next.deliveries.map(\.id) == ["b9", "b10", "b11"] && rest.next.reason == .empty)
            let stats = try await queue.stats()
            #expect(stats.releasedTotal == 9 && stats.working == 3 && stats.pending == 0)

            // 600 pairs: more release arguments than one unpack may take (the script copies them).
            _ = try await queue.enqueue(batch: (0..<1200).map { .init(payload: [UInt8($0 % 256)], id: "l\($0)") })
            let many = try await queue.dequeue(max: 600).deliveries
            #expect(many.count == 600)
            let large = try await queue.releaseAndDequeue(many, max: 600)
            #expect(large.outcomes == Array(repeating: .released, count: 600))
            #expect(large.next.deliveries.map(\.id) == (600..<1200).map { "l\($0)" })
            #expect(try await queue.stats().releasedTotal == 609)
        }
    }

    @Test func badInputIsRefusedBeforeAnyRedisCall() async throws {
        let port = try await closedPort()
        let client = try RedisClient(url: "redis://127.0.0.1:\(port)", logger: testLogger)
        defer { client.shutdown() }
        let queue = try makeQueue(client)
        let time = ServerTime(millisecondsSince1970: 0)
        let delivery = Delivery(id: "ok", payload: [], attempt: 1, lease: Lease(token: 1, deadline: time), enqueuedAt: time, deliveredAt: time)
        let badID = Delivery(id: "no spaces", payload: [], attempt: 1, lease: delivery.lease, enqueuedAt: time, deliveredAt: time)
        // A call that reached the network would fail with connectionFailed instead.
        await expectError(.invalidArgument) { _ = try await queue.releaseAndDequeue([], max: 1) }
        await expectError(.invalidArgument) { _ = try await queue.releaseAndDequeue([delivery], max: 0) }
        await expectError(.invalidArgument) { _ = try await queue.releaseAndDequeue([delivery], max: 1001) }
        await expectError(.invalidArgument) { _ = try await queue.releaseAndDequeue(Array(repeating: delivery, count: 1001), max: 1) }
        await expectError(.invalidArgument) { _ = try await queue.releaseAndDequeue([badID], max: 1) }
        await expectError(.invalidArgument) { _ = try await queue.releaseAndDequeue(badID) }
    }

    /// Consumer loops built on releaseAndDequeue, concurrently: every task is delivered and
    /// released exactly once, and the calls are merged.
    @Test func concurrentConsumerLoopsLoseNothingAndShareCalls() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                let total = 4_000
                for start in stride(from: 0, to: total, by: 1000) {
                    _ = try await queue.enqueue(batch: (start..<start + 1000).map { .init(payload: Array("\($0)".utf8), id: "c\($0)") })
                }
                let before = try commandCalls(server, "evalsha")
                let seen = Collector<String>()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<32 {
                        group.addTask {
                            var current = try await queue.dequeueOne()
                            while let delivery = current {
                                #expect(delivery.payload == Array(delivery.id.dropFirst().utf8))
                                seen.append(delivery.id)
                                let result = try await queue.releaseAndDequeue(delivery)
                                #expect(result.outcomes == [.released])
                                current = result.next.deliveries.first
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let calls = try commandCalls(server, "evalsha") - before
                let ids = seen.values
                #expect(ids.count == total && Set(ids).count == total, "\(ids.count) deliveries of \(Set(ids).count) tasks")
                #expect(calls < total, "\(calls) script calls for \(total) tasks: none were merged")
                let stats = try await queue.stats()
                #expect(stats.releasedTotal == total && stats.working == 0 && stats.pending == 0)
                try await queue.deleteQueue()
            }
        }
    }
}
