import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// The lease layout (`lua/README.md`): a lease is the member `id:token` of `leases`; a first
/// delivery with the defaults recorded in `meta` writes no `state` entry; other deliveries fix
/// their own max attempts and lease in `state`; leases written by the layout-1 scripts (`working`)
/// are still recovered.
@Suite("Queue lease layout")
struct QueueLeaseLayoutTests {
    /// Two consumers of one queue with different defaults: each task keeps the max attempts and
    /// lease of its own first delivery, whatever the defaults recorded in `meta`.
    @Test func eachDeliveryKeepsTheDefaultsItWasLeasedWith() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(100), maxAttempts: 1)) { queue, server in
            let prefix = "relq:{\(queue.name)}:"
            let patient = try makeQueue(queue.client, name: queue.name, configuration: .init(leaseTimeout: .seconds(30), maxAttempts: 3))
            try await queue.enqueue(text: "one", id: "one")
            try await queue.enqueue(text: "two", id: "two")
            let one = try #require(try await queue.dequeueOne())
            // The first dequeue records its defaults; no state entry for its delivery.
            #expect(try server.command("HMGET", prefix + "meta", "lease_ms", "max_attempts").array?.compactMap(\.string) == ["100", "1"])
            #expect(try server.command("HEXISTS", prefix + "state", "one").int == 0)
            // Another consumer's defaults while a lease is held: its delivery gets its own state.
            let two = try #require(try await patient.dequeueOne())
            #expect(two.lease.deadline.duration(since: two.deliveredAt) == .seconds(30))
            #expect(try server.command("HGET", prefix + "state", "two").string == "1::3:30000")
            #expect(try server.command("HMGET", prefix + "meta", "lease_ms", "max_attempts").array?.compactMap(\.string) == ["100", "1"])

            // Extend with the stored lease: each its own (100 ms from meta, 30 s from state).
            let oneDeadline = try await queue.extendLease(one)
            #expect(oneDeadline.duration(since: one.deliveredAt) < .seconds(5))
            let twoDeadline = try await queue.extendLease(two)
            #expect(twoDeadline.duration(since: two.deliveredAt) >= .seconds(30))

            // "one" expires with max attempts 1 from meta: dead-lettered by the sweep.
            await eventually(timeout: .seconds(5), every: .milliseconds(20), "one dead-lettered") {
                _ = try await queue.sweepAll()
                return try await queue.task(id: "one")?.state == .dead
            }
            #expect(try await queue.task(id: "two")?.state == .working)
            // A failed "two" goes back: 1 of its 3 attempts used.
            #expect(try await patient.requeue(two, error: "retry me") == .requeued)
            let again = try #require(try await patient.dequeueOne())
            #expect(again.id == "two" && again.attempt == 2)
            #expect(try server.command("HGET", prefix + "state", "two").string == "2::3:30000")
            #expect(try await patient.release([again]) == [.released])
            // No lease held: the next dequeue's defaults replace those in meta.
            try await patient.enqueue(text: "three", id: "three")
            let three = try #require(try await patient.dequeueOne())
            #expect(try server.command("HMGET", prefix + "meta", "lease_ms", "max_attempts").array?.compactMap(\.string) == ["30000", "3"])
            #expect(try server.command("HEXISTS", prefix + "state", "three").int == 0)
            #expect(try await patient.release([three]) == [.released])
        }
    }

    /// A release with a wrong token changes nothing: the lease stays valid, and the check leaves
    /// no trace in `leases`. (Ids and tokens holding ':' or glob characters, which only other
    /// clients can send: `scripts/lua-smoke.sh`.)
    @Test func staleTokensLeaveTheLeaseAndNoTrace() async throws {
        // (per-task members: a batch without a lease group)
        try await withSharedQueue(configuration: .init(leaseGroups: false)) { queue, server in
            let prefix = "relq:{\(queue.name)}:"
            try await queue.enqueue(text: "a", id: "a1")
            try await queue.enqueue(text: "b", id: "a")
            let taken = try await queue.dequeue(max: 2).deliveries
            #expect(taken.map(\.id) == ["a1", "a"])
            let (first, second) = (taken[0], taken[1])
            let wrong = Delivery(
                id: second.id, payload: second.payload, attempt: second.attempt,
                lease: Lease(token: second.lease.token + 7, deadline: second.lease.deadline),
                enqueuedAt: second.enqueuedAt, deliveredAt: second.deliveredAt)
            #expect(try await queue.release([wrong]) == [.staleLease])
            #expect(try server.command("ZCOUNT", prefix + "leases", "-1", "-1").int == 0)
            #expect(try server.command("ZCOUNT", prefix + "leases", "-inf", "(inf").int == 2)
            #expect(try await queue.task(id: "a")?.state == .working)
            #expect(try await queue.release([first, second]) == [.released, .released])
            #expect(try await queue.stats().working == 0)
        }
    }

    /// `task(id:)` and `remove(id:)` find a lease by scanning `leases`: an id that is a prefix of
    /// others matches only its own lease.
    @Test func inspectAndRemoveFindTheLeaseOfTheirOwnId() async throws {
        try await withSharedQueue { queue, _ in
            let ids = ["a.b", "a", "a.", "ab"]
            for id in ids { try await queue.enqueue(text: id, id: id) }
            let taken = try await queue.dequeue(max: 4).deliveries
            #expect(taken.map(\.id) == ids)
            for delivery in taken {
                let info = try #require(try await queue.task(id: delivery.id))
                #expect(info.state == .working && info.attempts == 1 && info.time == delivery.lease.deadline)
            }
            #expect(try await queue.remove(id: "a."))
            #expect(try await queue.task(id: "a.") == nil)
            #expect(try await queue.task(id: "a")?.state == .working)
            #expect(try await queue.release(taken) == [.released, .released, .notFound, .released])
            #expect(try await queue.stats().working == 0)
        }
    }

    /// Leases written by the layout-1 scripts (`working` holds the id, `state` the token) are
    /// counted, inspected and, once expired, recovered by the sweep with their attempt counted.
    @Test func layoutOneLeasesAreRecoveredBySweep() async throws {
        try await withSharedQueue { queue, server in
            let prefix = "relq:{\(queue.name)}:"
            try await queue.enqueue(text: "old", id: "old")
            // What the layout-1 dequeue left: the id out of pending, in working, the token in state.
            #expect(try server.command("RPOP", prefix + "pending").string == "old")
            let past = try await queue.stats().serverTimeMilliseconds - 1
            _ = try server.command("ZADD", prefix + "working", String(past), "old")
            _ = try server.command("HSET", prefix + "state", "old", "1:41:5:30000")
            #expect(try await queue.stats().working == 1)
            #expect(try await queue.task(id: "old")?.state == .working)

            let swept = try await queue.sweepAll()
            #expect(swept.recovered == 1)
            #expect(try server.command("ZCARD", prefix + "working").int == 0)
            let again = try #require(try await queue.dequeueOne())
            #expect(again.id == "old" && again.attempt == 2)
            #expect(try server.command("HGET", prefix + "state", "old").string == "2::5:30000")
            #expect(try await queue.release([again]) == [.released])
        }
    }
}
