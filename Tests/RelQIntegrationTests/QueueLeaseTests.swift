import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Leases, fencing, requeue, extend and sweep.
@Suite("Queue leases and sweep")
struct QueueLeaseTests {
    /// Sweeps until `recovered + deadLettered` reaches `expected` (leases must expire first).
    @discardableResult
    private func sweepUntil(_ queue: ReliableQueue, moved expected: Int, timeout: Duration = .seconds(5)) async -> ReliableQueue.SweepResult {
        var total = ReliableQueue.SweepResult()
        await eventually(timeout: timeout, every: .milliseconds(20), "sweep moved \(expected)") {
            let result = try await queue.sweepAll()
            total.recovered += result.recovered
            total.deadLettered += result.deadLettered
            total.promoted += result.promoted
            total.trimmed += result.trimmed
            return total.recovered + total.deadLettered >= expected
        }
        return total
    }

    /// One batch release that names a task twice, and a stale token beside a live one: each pair
    /// gets its own outcome, a task is released once, and a stale pair changes nothing.
    @Test func batchReleaseOutcomesWithRepeatsAndStaleTokens() async throws {
        try await withSharedQueue { queue, _ in
            for id in ["a", "b", "c"] { try await queue.enqueue(text: id, id: id) }
            let taken = try await queue.dequeue(max: 3).deliveries
            #expect(taken.map(\.id) == ["a", "b", "c"])
            let (a, b, c) = (taken[0], taken[1], taken[2])
            let staleC = Delivery(
                id: c.id, payload: c.payload, attempt: c.attempt,
                lease: Lease(token: c.lease.token + 1000, deadline: c.lease.deadline),
                enqueuedAt: c.enqueuedAt, deliveredAt: c.deliveredAt)
            let outcomes = try await queue.release([a, a, b, staleC])
            #expect(outcomes == [.released, .notFound, .released, .staleLease])
            #expect(try await queue.stats().releasedTotal == 2)
            #expect(try await queue.task(id: "c")?.state == .working, "the stale pair left c leased")
            // A stale pair beside its task's live pair in one call: the task is released once.
            #expect(try await queue.release([staleC, c]) == [.notFound, .released])
            let stats = try await queue.stats()
            #expect(stats.releasedTotal == 3 && stats.working == 0)
        }
    }

    @Test func fencingAfterLeaseExpiry() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(200))) { queue, _ in
            try await queue.enqueue(text: "fenced", id: "f")
            let first = try #require(try await queue.dequeueOne())
            #expect(first.attempt == 1)
            #expect(first.lease.deadline.duration(since: first.deliveredAt) == .milliseconds(200))
            let early = try await queue.sweep()
            if try await queue.stats().serverTimeMilliseconds < first.lease.deadline.millisecondsSince1970 {
                #expect(early.recovered == 0, "swept before the lease ran out")
            }

            let swept = early.recovered == 1 ? early : await sweepUntil(queue, moved: 1)
            #expect(swept.recovered == 1 && swept.deadLettered == 0)
            #expect(try await queue.task(id: "f")?.lastError == "lease expired")
            #expect(try await queue.task(id: "f")?.state == .pending)

            let second = try #require(try await queue.dequeueOne())
            #expect(second.id == "f" && second.attempt == 2)
            #expect(second.lease.token != first.lease.token)
            #expect(second.payloadText == "fenced")

            // The old lease can do nothing.
            await expectError(.staleLease) { try await queue.release(first) }
            #expect(try await queue.release([first]) == [.staleLease])
            await expectError(.staleLease) { try await queue.requeue(first) }
            await expectError(.staleLease) { try await queue.giveBack(first) }
            await expectError(.staleLease) { try await queue.extendLease(first, by: .seconds(10)) }

            // The new delivery is untouched.
            let info = try #require(try await queue.task(id: "f"))
            #expect(info.state == .working && info.attempts == 2 && info.time == second.lease.deadline)
            try await queue.release(second)
            #expect(try await queue.task(id: "f") == nil)
            await expectError(.taskNotFound) { try await queue.release(first) }
            let stats = try await queue.stats()
            #expect(stats.timedOutTotal == 1 && stats.dequeuedTotal == 2 && stats.releasedTotal == 1)
        }
    }

    @Test func requeueWithDelay() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(text: "retry me", id: "r")
            let first = try #require(try await queue.dequeueOne())
            #expect(try await queue.requeue(first, delay: .milliseconds(300), error: "try later") == .requeued)
            let info = try #require(try await queue.task(id: "r"))
            #expect(info.state == .delayed && info.lastError == "try later" && info.attempts == 1)
            let early = try await queue.dequeue()
            if let due = info.time, early.serverTime < due { #expect(early.deliveries.isEmpty) }
            await expectError(.staleLease) { try await queue.release(first) }
            var second: Delivery? = early.deliveries.first
            await eventually(timeout: .seconds(3), every: .milliseconds(20), "requeued task back") {
                if second != nil { return true }
                second = try await queue.dequeueOne()
                return second != nil
            }
            let delivery = try #require(second)
            #expect(delivery.attempt == 2)
            #expect(delivery.deliveredAt.duration(since: first.deliveredAt) >= .milliseconds(300))
            try await queue.release(delivery)
            #expect(try await queue.stats().requeuedTotal == 1)
        }
    }

    @Test func requeueAfterMaxAttemptsDeadLetters() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 2)) { queue, _ in
            try await queue.enqueue(text: "doomed", id: "x")
            let first = try #require(try await queue.dequeueOne())
            #expect(try await queue.requeue(first, error: "first failure") == .requeued)
            let second = try #require(try await queue.dequeueOne())
            #expect(second.attempt == 2)
            #expect(try await queue.requeue(second, error: "second failure") == .deadLettered)
            #expect(try await queue.dequeueOne() == nil)
            let page = try await queue.deadLetters()
            #expect(page.total == 1)
            let dead = try #require(page.entries.first)
            #expect(dead.id == "x" && dead.attempts == 2 && dead.lastError == "second failure" && dead.payload == Array("doomed".utf8))
            await expectError(.staleLease) { try await queue.release(second) }
            #expect(try await queue.stats().deadLetteredTotal == 1)
        }
    }

    @Test func perTaskMaxAttemptsAndDefaultDeadLetterError() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 10)) { queue, _ in
            try await queue.enqueue(Array("once".utf8), id: "one", maxAttempts: 1)
            let delivery = try #require(try await queue.dequeueOne())
            #expect(try await queue.requeue(delivery) == .deadLettered)
            #expect(try await queue.deadLetters().entries.first?.lastError == "max attempts reached")
        }
    }

    /// One dequeue call returns the shared deadline once and a deadline only for tasks with their
    /// own lease: each delivery must still get its own deadline and token, and be releasable.
    /// With a lease group the tasks share one token, the ones with their own lease outside the group.
    @Test(arguments: [false, true]) func mixedLeasesInOneDequeueCall(groups: Bool) async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .seconds(30), leaseGroups: groups)) { queue, _ in
            let leases: [Duration?] = [nil, .seconds(5), nil, .milliseconds(800), .seconds(30)]
            _ = try await queue.enqueue(batch: leases.enumerated().map { index, lease in
                .init(payload: Array("task \(index)".utf8), id: "m\(index)", leaseTimeout: lease)
            })
            let deliveries = try await queue.dequeue(max: 10).deliveries
            #expect(deliveries.map(\.id) == ["m0", "m1", "m2", "m3", "m4"])
            #expect(deliveries.map { $0.lease.deadline.duration(since: $0.deliveredAt) } == leases.map { $0 ?? .seconds(30) })
            #expect(deliveries.map(\.payload) == (0..<5).map { Array("task \($0)".utf8) })
            #expect(Set(deliveries.map(\.lease.token)).count == (groups ? 1 : 5))
            for delivery in deliveries {
                #expect(try await queue.task(id: delivery.id)?.time == delivery.lease.deadline)
            }
            // Each token fences its own task: a token of another task of the call is stale; so
            // is any other token for a grouped task (in or outside the group).
            let other = groups ? deliveries[0].lease.token - 1 : deliveries[0].lease.token
            await expectError(.staleLease) { try await queue.release(id: "m1", token: other) }
            await expectError(.staleLease) { try await queue.release(id: "m2", token: groups ? other : deliveries[1].lease.token) }
            #expect(try await queue.release(deliveries) == Array(repeating: .released, count: 5))
        }
    }

    @Test func giveBackDoesNotCountTheAttempt() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1)) { queue, _ in
            try await queue.enqueue(text: "handle later", id: "g")
            for _ in 0..<3 {
                let delivery = try #require(try await queue.dequeueOne())
                #expect(delivery.attempt == 1)
                try await queue.giveBack(delivery)
                let info = try #require(try await queue.task(id: "g"))
                #expect(info.state == .pending && info.attempts == 0)
            }
            // A normal requeue on the only attempt dead-letters.
            let delivery = try #require(try await queue.dequeueOne())
            #expect(try await queue.requeue(delivery) == .deadLettered)
        }
    }

    @Test func extendLeasePushesTheDeadline() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(200))) { queue, server in
            try await queue.enqueue(text: "long job", id: "e")
            let delivery = try #require(try await queue.dequeueOne())
            let deadline = try await queue.extendLease(delivery, by: .seconds(5))
            #expect(deadline.duration(since: delivery.lease.deadline) >= .milliseconds(4800))
            #expect(try await queue.task(id: "e")?.time == deadline)
            // Past the original deadline, a sweep leaves it alone.
            await eventually(timeout: .seconds(3), "the original lease deadline passed") {
                try await queue.stats().serverTimeMilliseconds > delivery.lease.deadline.millisecondsSince1970 + 50
            }
            let result = try await queue.sweepAll()
            #expect(result.recovered == 0 && result.deadLettered == 0)
            #expect(try await queue.task(id: "e")?.state == .working)
            // Extending with the task's own lease (nil) uses the stored 200 ms.
            let short = try await queue.extendLease(delivery)
            let now = try #require(try server.command("TIME").array?.first?.string.flatMap { Int64($0) })
            #expect(abs(short.millisecondsSince1970 - now * 1000 - 200) < 1_500)
            try await queue.release(delivery)
        }
    }

    @Test func sweepDeadLettersAfterMaxAttemptsOnLeaseExpiry() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(100), maxAttempts: 2)) { queue, _ in
            try await queue.enqueue(text: "crashy", id: "c")
            _ = try #require(try await queue.dequeueOne())
            #expect(await sweepUntil(queue, moved: 1).recovered == 1)
            let second = try #require(try await queue.dequeueOne())
            #expect(second.attempt == 2)
            let result = await sweepUntil(queue, moved: 1)
            #expect(result.deadLettered == 1 && result.recovered == 0)
            let dead = try #require(try await queue.deadLetters().entries.first)
            #expect(dead.id == "c" && dead.attempts == 2)
            #expect(dead.lastError == "lease expired after 2 attempts")
            let stats = try await queue.stats()
            #expect(stats.dead == 1 && stats.working == 0 && stats.pending == 0 && stats.timedOutTotal == 2 && stats.deadLetteredTotal == 1)
            await expectError(.staleLease) { try await queue.release(second) }
        }
    }

    @Test func sweepWithRetryDelayAndPromotion() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(100))) { queue, _ in
            try await queue.enqueue(text: "s", id: "s")
            _ = try #require(try await queue.dequeueOne())
            await eventually(timeout: .seconds(3), every: .milliseconds(20), "recovered into delayed") {
                try await queue.sweep(retryDelay: .seconds(30)).recovered == 1
            }
            #expect(try await queue.task(id: "s")?.state == .delayed)
            try await queue.enqueue(text: "due", id: "due", delay: .milliseconds(50))
            await eventually(timeout: .seconds(3), every: .milliseconds(20), "sweep promotes a due delayed task") {
                try await queue.sweep().promoted == 1
            }
            #expect(try await queue.task(id: "due")?.state == .pending)
        }
    }

    @Test func twoConcurrentSweepersNeverMoveATaskTwice() async throws {
        let server = try await SharedRedis.server()
        let name = uniqueName()
        let configuration = ReliableQueue.Configuration(leaseTimeout: .milliseconds(100))
        try await withClient(server) { first in
            try await withClient(server) { second in
                let queueA = try makeQueue(first, name: name, configuration: configuration)
                let queueB = try makeQueue(second, name: name, configuration: configuration)
                try await queueA.enqueue(batch: (0..<2000).map { .init(payload: [], id: "s\($0)") })
                var latest: Int64 = 0
                for _ in 0..<2 {
                    let deliveries = try await queueA.dequeue(max: 1000).deliveries
                    #expect(deliveries.count == 1000)
                    latest = max(latest, deliveries.map(\.lease.deadline.millisecondsSince1970).max() ?? 0)
                }
                await eventually("every lease expired") { try await queueA.stats().serverTimeMilliseconds > latest }
                async let a = queueA.sweepAll(limit: 100)
                async let b = queueB.sweepAll(limit: 100)
                let (resultA, resultB) = try await (a, b)
                #expect(resultA.recovered + resultB.recovered == 2000, "A \(resultA.recovered) + B \(resultB.recovered)")
                #expect(resultA.deadLettered + resultB.deadLettered == 0)
                let pending = try #require(try RawRedis.command(port: server.port, args: ["LRANGE", "relq:{\(name)}:pending", "0", "-1"], timeout: .seconds(5)).array)
                let ids = pending.compactMap(\.string)
                #expect(ids.count == 2000)
                #expect(Set(ids) == Set((0..<2000).map { "s\($0)" }))
                let stats = try await queueA.stats()
                #expect(stats.working == 0 && stats.pending == 2000 && stats.timedOutTotal == 2000)
                try await queueA.deleteQueue()
            }
        }
    }
}
