import Foundation
import Logging
import RelQTesting
import ServiceLifecycle
import Synchronization
import Testing

@testable import RelQ

/// The consumer loop (issue #4): lease auto-extension, retry backoff and dead letters, graceful shutdown.
@Suite("ConsumerService")
struct ConsumerServiceTests {
    /// Deliveries seen by a handler, in order, with the client clock at delivery.
    final class DeliveryLog: Sendable {
        let entries = Mutex<[(id: String, attempt: Int, at: ContinuousClock.Instant)]>([])
        func record(_ delivery: Delivery) {
            entries.withLock { $0.append((delivery.id, delivery.attempt, ContinuousClock.now)) }
        }
        var count: Int { entries.withLock { $0.count } }
    }

    /// Runs `services` in a ServiceGroup until `body` returns, then shuts the group down gracefully
    /// and waits for it.
    @discardableResult
    func running<T: Sendable>(_ services: [any Service], _ body: () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: testLogger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: T
            do {
                result = try await body()
            } catch {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    @Test("a slow handler keeps its task: the lease is extended, never swept")
    func leaseAutoExtension() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .seconds(1))) { queue, _ in
            let log = DeliveryLog()
            let consumer = ConsumerService(queue: queue, configuration: .init(concurrency: 2, waitTimeout: .milliseconds(200)), logger: testLogger) { delivery in
                log.record(delivery)
                try await Task.sleep(for: .milliseconds(2500))  // two and a half leases long
            }
            let sweeper = Sweeper(queues: [queue], configuration: .init(interval: .milliseconds(50)), logger: testLogger)
            let enqueued = try await queue.enqueue(text: "slow")
            try await running([consumer, sweeper]) {
                await eventually(timeout: .seconds(10), "the slow task is released") {
                    try await queue.stats().releasedTotal == 1
                }
            }
            let stats = try await queue.stats()
            #expect(log.count == 1, "the task must be delivered exactly once")
            #expect(stats.timedOutTotal == 0, "the sweeper must never have found the lease expired")
            #expect(stats.pending == 0 && stats.working == 0)
            #expect(try await queue.task(id: enqueued.id) == nil)
        }
    }

    @Test("an always-failing handler: max attempts with backoff spacing, then a dead letter with the last error")
    func failingHandlerDeadLetters() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .seconds(5), maxAttempts: 3)) { queue, _ in
            struct Boom: Error, CustomStringConvertible { var description: String { "boom: payment gateway down" } }
            let log = DeliveryLog()
            let backoff = Duration.milliseconds(250)
            let consumer = ConsumerService(
                queue: queue,
                configuration: .init(concurrency: 1, waitTimeout: .milliseconds(500), retryBackoff: .fixed(backoff)),
                logger: testLogger
            ) { delivery in
                log.record(delivery)
                throw Boom()
            }
            let enqueued = try await queue.enqueue(text: "poison")
            try await running([consumer]) {
                await eventually(timeout: .seconds(10), "the task is dead-lettered") {
                    try await queue.stats().dead == 1
                }
            }
            let entries = log.entries.withLock { $0 }
            #expect(entries.map(\.attempt) == [1, 2, 3], "exactly maxAttempts deliveries, numbered 1...3")
            for (earlier, later) in zip(entries, entries.dropFirst()) {
                // The task is invisible for the backoff (server clock); allow 30 ms of clock granularity.
                #expect(later.at - earlier.at >= backoff - .milliseconds(30), "retry came after \(later.at - earlier.at), backoff \(backoff)")
            }
            let page = try await queue.deadLetters()
            #expect(page.total == 1)
            let letter = try #require(page.entries.first)
            #expect(letter.id == enqueued.id)
            #expect(letter.attempts == 3)
            #expect(letter.lastError?.contains("payment gateway down") == true)
            let stats = try await queue.stats()
            #expect(stats.pending == 0 && stats.working == 0 && stats.delayed == 0)
            #expect(stats.requeuedTotal == 2 && stats.deadLetteredTotal == 1)
        }
    }

    @Test("graceful shutdown gives unfinished tasks back at once, without counting the attempt")
    func gracefulShutdownGivesBack() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .seconds(60))) { queue, _ in
            let started = Atomic<Int>(0)
            let consumer = ConsumerService(
                queue: queue,
                configuration: .init(concurrency: 4, waitTimeout: .milliseconds(200), shutdownGracePeriod: .milliseconds(200)),
                logger: testLogger
            ) { _ in
                started.add(1, ordering: .relaxed)
                try await Task.sleep(for: .seconds(30))  // far longer than the grace period
            }
            let ids = try await queue.enqueue(batch: (0..<6).map { .init(payload: Array("t\($0)".utf8)) }).map(\.id)
            let (_, elapsed) = try await measure {
                try await running([consumer]) {
                    await eventually(timeout: .seconds(5), "four handlers run") { started.load(ordering: .relaxed) == 4 }
                }
            }
            #expect(elapsed < .seconds(10), "shutdown must not wait for the 30 s handlers")
            // No sweep ran: every task is pending again right after the consumer stopped.
            let stats = try await queue.stats()
            #expect(stats.working == 0, "unfinished tasks must be given back at shutdown")
            #expect(stats.pending == 6)
            #expect(stats.releasedTotal == 0 && stats.timedOutTotal == 0)
            for id in ids {
                let info = try #require(try await queue.task(id: id))
                #expect(info.state == .pending)
                #expect(info.attempts == 0, "a give-back must not count the attempt")
            }
        }
    }

    @Test("a handler that succeeds releases; run time and concurrency stay bounded")
    func releasesWithBoundedConcurrency() async throws {
        try await withSharedQueue { queue, server in
            let running = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
            let grouped = Atomic<Int>(0)
            let consumer = ConsumerService(queue: queue, configuration: .init(concurrency: 3, waitTimeout: .milliseconds(200)), logger: testLogger) { delivery in
                // Each slot releases its own task: the service's batch dequeues take no lease group.
                if delivery.lease.token < 0 { grouped.add(1, ordering: .relaxed) }
                let now = running.add(1, ordering: .relaxed).newValue
                var seen = peak.load(ordering: .relaxed)
                while now > seen, !peak.compareExchange(expected: seen, desired: now, ordering: .relaxed).exchanged {
                    seen = peak.load(ordering: .relaxed)
                }
                try await Task.sleep(for: .milliseconds(5))
                running.subtract(1, ordering: .relaxed)
            }
            try await queue.enqueue(batch: (0..<60).map { .init(payload: Array("job \($0)".utf8)) })
            try await self.running([consumer]) {
                await eventually(timeout: .seconds(10), "all 60 released") { try await queue.stats().releasedTotal == 60 }
            }
            #expect(peak.load(ordering: .relaxed) <= 3, "never more than `concurrency` handlers at once")
            #expect(peak.load(ordering: .relaxed) >= 2, "handlers do run concurrently")
            #expect(grouped.load(ordering: .relaxed) == 0, "no delivery of a lease group")
            let stats = try await queue.stats()
            #expect(stats.pending == 0 && stats.working == 0 && stats.dequeuedTotal == 60)
            _ = server
        }
    }

    @Test("a busy slot takes its next task with the release: one script call per task")
    func releaseBringsTheNextTask() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                let log = DeliveryLog()
                let consumer = ConsumerService(queue: queue, configuration: .init(concurrency: 1, waitTimeout: .milliseconds(200)), logger: testLogger) {
                    log.record($0)
                }
                try await queue.enqueue(batch: (0..<50).map { .init(payload: Array("job \($0)".utf8), id: "j\($0)") })
                let before = try commandCalls(server, "evalsha")
                try await self.running([consumer]) {
                    await eventually(timeout: .seconds(10), "all 50 released") { try await queue.stats().releasedTotal == 50 }
                }
                let calls = try commandCalls(server, "evalsha") - before
                let ids = log.entries.withLock { $0.map(\.id) }
                #expect(ids == (0..<50).map { "j\($0)" }, "each task once, in order")
                // A dequeue, then one release_dequeue per task (plus the stats polls and a last
                // empty dequeue); a release and a dequeue per task would be 100 or more.
                let polls = try commandCalls(server, "evalsha_ro")
                #expect(calls >= 50 && calls <= 50 + 5, "\(calls) script calls for 50 tasks (\(polls) read-only)")
                let stats = try await queue.stats()
                #expect(stats.pending == 0 && stats.working == 0 && stats.dequeuedTotal == 50)
                try await queue.deleteQueue()
            }
        }
    }
}
