import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Concurrent single-task enqueues and releases are merged into batch script calls, and every
/// caller still gets exactly its own outcome.
@Suite("Coalescing of concurrent single calls", .serialized)
struct CoalescingTests {
    @Test func concurrentEnqueuesShareScriptCallsAndKeepTheirOwnResults() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                let before = try commandCalls(server, "evalsha")
                let results = try await withThrowingTaskGroup(of: (String, ReliableQueue.EnqueueResult).self) { group in
                    for index in 0..<300 {
                        group.addTask { ("job-\(index)", try await queue.enqueue(text: "payload \(index)", id: "job-\(index)")) }
                    }
                    var all: [(String, ReliableQueue.EnqueueResult)] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                let calls = try commandCalls(server, "evalsha") - before
                #expect(results.count == 300)
                #expect(results.allSatisfy { $0.0 == $0.1.id && $0.1.inserted }, "each caller gets its own id")
                #expect(calls < 300, "300 concurrent enqueues took \(calls) script calls: none were merged")
                let stats = try await queue.stats()
                #expect(stats.pending == 300 && stats.enqueuedTotal == 300)
                // Each payload went with its own id.
                let page = try await queue.peek(limit: 300)
                #expect(page.tasks.allSatisfy { $0.payload == Array("payload \($0.id.dropFirst(4))".utf8) })
            }
        }
    }

    /// Concurrent single dequeues share script calls but take no lease group: each caller releases
    /// its own task, and a group would be rewritten at every such release.
    @Test func concurrentSingleDequeuesTakeNoLeaseGroup() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                _ = try await queue.enqueue(batch: (0..<200).map { .init(payload: Array("t\($0)".utf8)) })
                let before = try commandCalls(server, "evalsha")
                let deliveries = try await withThrowingTaskGroup(of: Delivery?.self) { group in
                    for _ in 0..<200 { group.addTask { try await queue.dequeueOne() } }
                    var all: [Delivery] = []
                    for try await delivery in group { if let delivery { all.append(delivery) } }
                    return all
                }
                let calls = try commandCalls(server, "evalsha") - before
                #expect(deliveries.count == 200 && Set(deliveries.map(\.id)).count == 200)
                #expect(calls < 200, "200 concurrent dequeues took \(calls) script calls: none were merged")
                #expect(deliveries.allSatisfy { $0.lease.token > 0 }, "a delivery of a lease group")
                #expect(try server.command("EXISTS", "relq:{\(queue.name)}:groups").int == 0)
                #expect(try await queue.release(deliveries).allSatisfy { $0 == .released })
                #expect(try await queue.stats().working == 0)
            }
        }
    }

    @Test func concurrentDuplicatesInsertExactlyOnce() async throws {
        try await withSharedQueue { queue, _ in
            let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<50 { group.addTask { try await queue.enqueue(text: "once", id: "same-id").inserted } }
                var count = 0
                for try await wasInserted in group where wasInserted { count += 1 }
                return count
            }
            #expect(inserted == 1)
            #expect(try await queue.stats().pending == 1)
        }
    }

    @Test func concurrentReleasesEachGetTheirOwnOutcome() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(100))) { queue, _ in
            try await queue.enqueue(batch: (0..<101).map { .init(payload: [UInt8($0 % 256)], id: "r\($0)") })
            var deliveries = try await queue.dequeue(max: 101).deliveries
            #expect(deliveries.count == 101)
            // Make one lease stale: it expires and is delivered again.
            let stale = deliveries.removeLast()
            for delivery in deliveries { try await queue.extendLease(delivery, by: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await queue.sweep().recovered == 1)
            let again = try #require(try await queue.dequeueOne())
            #expect(again.id == stale.id && again.lease.token != stale.lease.token)
            try await queue.extendLease(again, by: .seconds(30))

            let outcomes = await withTaskGroup(of: (String, ReliableQueueError.Code?).self) { group in
                for delivery in deliveries + [stale] {
                    group.addTask {
                        do {
                            try await queue.release(delivery)
                            return (delivery.id, nil)
                        } catch let error as ReliableQueueError {
                            return (delivery.id, error.code)
                        } catch {
                            return (delivery.id, .scriptFailed)
                        }
                    }
                }
                var all: [String: ReliableQueueError.Code?] = [:]
                for await (id, code) in group { all[id] = code }
                return all
            }
            #expect(outcomes.count == 101)
            #expect(outcomes[stale.id] == .some(.staleLease), "the stale token is refused, in the same merged call as the others")
            #expect(outcomes.filter { $0.key != stale.id }.allSatisfy { $0.value == nil }, "every other release succeeds")
            let stats = try await queue.stats()
            #expect(stats.releasedTotal == 100 && stats.working == 1)
            try await queue.release(again)
        }
    }
}
