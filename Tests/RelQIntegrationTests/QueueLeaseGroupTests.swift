import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Lease groups (`lua/README.md`, "Lease groups"): a `dequeue(max:)` of several tasks leases them
/// under one `leases` member and one `groups` field, with one negative token shared by its tasks;
/// each task is still released, requeued, extended, inspected, removed and swept on its own.
@Suite("Queue lease groups")
struct QueueLeaseGroupTests {
    /// The Redis side of one queue, for looking at the layout.
    struct Layout {
        let server: RedisServer
        let prefix: String

        init(_ queue: ReliableQueue, _ server: RedisServer) {
            self.server = server
            prefix = "relq:{\(queue.name)}:"
        }

        /// Members of `leases` but the encoding anchor.
        func leaseMembers() throws -> Int { try server.command("ZCOUNT", prefix + "leases", "-inf", "(inf").int ?? -1 }
        func groups() throws -> Int { try server.command("HLEN", prefix + "groups").int ?? -1 }
        func grouped() throws -> Int { Int(try server.command("HGET", prefix + "meta", "grouped").string ?? "0") ?? -1 }
    }

    private func enqueue(_ queue: ReliableQueue, _ ids: [String]) async throws {
        _ = try await queue.enqueue(batch: ids.map { .init(payload: Array("payload \($0)".utf8), id: $0) })
    }

    /// A batch dequeue is one lease entry; released whole, nothing of it is left.
    @Test func aBatchIsOneLeaseAndReleasedWhole() async throws {
        try await withSharedQueue { queue, server in
            let layout = Layout(queue, server)
            let ids = (0..<10).map { "t\($0)" }
            try await enqueue(queue, ids)
            let deliveries = try await queue.dequeue(max: 10).deliveries
            #expect(deliveries.map(\.id) == ids)
            let token = try #require(deliveries.first?.lease.token)
            #expect(token < 0)
            #expect(deliveries.allSatisfy { $0.lease.token == token && $0.lease.deadline == deliveries[0].lease.deadline })
            #expect(try layout.leaseMembers() == 1)
            #expect(try layout.groups() == 1)
            #expect(try layout.grouped() == 10)
            #expect(try await queue.stats().working == 10)
            #expect(try await queue.task(id: "t3")?.state == .working)

            #expect(try await queue.release(deliveries) == Array(repeating: .released, count: 10))
            #expect(try layout.leaseMembers() == 0)
            #expect(try layout.groups() == 0)
            #expect(try layout.grouped() == 0)
            #expect(try await queue.stats().working == 0)
            #expect(try await queue.task(id: "t3") == nil)
            // A retried ack of the whole batch: every task not found, nothing changes.
            #expect(try await queue.release(deliveries) == Array(repeating: .notFound, count: 10))
        }
    }

    /// A release of every task of a group names the group by its token (the whole-group form);
    /// when a task left the group since, nothing changes and the pairs are named instead, so the
    /// outcome is the same either way and no task outside the call is released.
    @Test func aWholeBatchReleaseNamesTheGroupOnlyWhenItIsIntact() async throws {
        try await withSharedQueue { queue, server in
            let layout = Layout(queue, server)
            try await enqueue(queue, ["a", "b", "c", "d"])
            let batch = try await queue.dequeue(max: 4).deliveries
            #expect(batch.count == 4)
            #expect(ReliableQueue.wholeGroup(batch) == batch[0].lease.token)
            // The group size is bookkeeping: a lease rebuilt from token and deadline is equal.
            #expect(batch[0].lease == Lease(token: batch[0].lease.token, deadline: batch[0].lease.deadline))
            #expect(ReliableQueue.wholeGroup(Array(batch[0..<3])) == nil)  // a part
            #expect(ReliableQueue.wholeGroup([batch[0], batch[0], batch[1], batch[2]]) == nil)  // a repeat
            // "c" leaves the group: a whole-batch release finds 3 tasks in it, not 4, and falls back.
            _ = try await queue.extendLease(batch[2], by: .seconds(60))
            #expect(try await queue.release(batch) == Array(repeating: .released, count: 4))
            #expect(try layout.leaseMembers() == 0 && layout.groups() == 0 && layout.grouped() == 0)
            #expect(try await queue.stats().working == 0)

            // A task with a lease of its own is not in the group's entry: naming it with the other
            // tasks of the call is no whole-group release, and the task left out stays leased.
            _ = try await queue.enqueue(batch: [
                .init(payload: Array("e".utf8), id: "e"), .init(payload: Array("f".utf8), id: "f"),
                .init(payload: Array("g".utf8), id: "g", leaseTimeout: .seconds(300)),
            ])
            let mixed = try await queue.dequeue(max: 3).deliveries
            #expect(mixed.map(\.id) == ["e", "f", "g"])
            #expect(mixed.map(\.lease.groupSize) == [2, 2, 0])
            #expect(ReliableQueue.wholeGroup([mixed[0], mixed[2]]) == nil)
            #expect(try await queue.release([mixed[0], mixed[2]]) == [.released, .released])
            #expect(try await queue.task(id: "f")?.state == .working)
            #expect(ReliableQueue.wholeGroup([mixed[1]]) == nil)
            #expect(try await queue.release([mixed[1]]) == [.released])
            #expect(try await queue.stats().working == 0)

            // The protocol itself: a count that is not the group's changes nothing ({3, k}).
            try await enqueue(queue, ["h", "i"])
            let pair = try await queue.dequeue(max: 2).deliveries
            let keys = QueueKeys(queue: queue.name).keys(for: LuaScripts.release)
            func wholeRelease(_ count: Int) throws -> [Int]? {
                try RawRedis.command(
                    host: server.host, port: server.port, password: nil,
                    args: ["EVALSHA", LuaScripts.release.sha1, String(keys.count)] + keys + [String(count), String(pair[0].lease.token)]
                ).array?.compactMap(\.int)
            }
            #expect(try wholeRelease(3) == [3, 2])
            #expect(try layout.grouped() == 2)
            #expect(try wholeRelease(2) == [2, 2])
            #expect(try layout.groups() == 0 && layout.grouped() == 0)
            #expect(try await queue.task(id: "h") == nil)
            #expect(try wholeRelease(2) == [3, 0])
        }
    }

    /// Each task of a group finishes its own way; the group shrinks until it is gone.
    @Test func tasksOfAGroupFinishOneByOne() async throws {
        try await withSharedQueue { queue, server in
            let layout = Layout(queue, server)
            try await enqueue(queue, ["a", "b", "c", "d", "e", "f"])
            let batch = try await queue.dequeue(max: 6).deliveries
            #expect(batch.count == 6)
            let token = batch[0].lease.token

            // Two released together, one alone.
            #expect(try await queue.release([batch[0], batch[1]]) == [.released, .released])
            try await queue.release(batch[2])
            #expect(try layout.grouped() == 3)
            // A token of another delivery, or the same id twice: stale / not found, nothing lost.
            #expect(try await queue.release([batch[0]]) == [.notFound])
            await expectError(.staleLease) { try await queue.release(id: "d", token: token - 1) }
            await expectError(.staleLease) { try await queue.release(id: "d", token: -token) }
            #expect(try layout.grouped() == 3)

            // Extend "d": it leaves the group with its own member and deadline.
            let extended = try await queue.extendLease(batch[3], by: .seconds(120))
            #expect(extended > batch[3].lease.deadline)
            #expect(try layout.grouped() == 2)
            #expect(try layout.leaseMembers() == 2)
            #expect(try await queue.task(id: "d")?.time == extended)
            #expect(try await queue.task(id: "e")?.time == batch[4].lease.deadline)

            // Requeue "e": back to pending, delivered again (alone: one task is no group).
            #expect(try await queue.requeue(batch[4], error: "try again") == .requeued)
            let again = try #require(try await queue.dequeueOne())
            #expect(again.id == "e" && again.attempt == 2 && again.lease.token > 0)

            // Remove "f", the last task of the group: the group is gone.
            #expect(try await queue.remove(id: "f"))
            #expect(try layout.groups() == 0)
            #expect(try layout.grouped() == 0)
            #expect(try await queue.release([batch[5]]) == [.notFound])

            // "d" is still released with the group's token (its own member now).
            #expect(try await queue.release([batch[3], again]) == [.released, .released])
            #expect(try layout.leaseMembers() == 0)
            let stats = try await queue.stats()
            #expect(stats.working == 0 && stats.pending == 0)
        }
    }

    /// An expired group is recovered task by task (attempts counted), except a task extended out
    /// of it; the old token is stale afterwards, and max attempts dead-letter as for single leases.
    @Test func anExpiredGroupIsSweptTaskByTask() async throws {
        try await withSharedQueue(configuration: .init(leaseTimeout: .milliseconds(50), maxAttempts: 2)) { queue, server in
            let layout = Layout(queue, server)
            try await enqueue(queue, ["p", "q", "r", "s"])
            let first = try await queue.dequeue(max: 4).deliveries
            #expect(first.count == 4)
            _ = try await queue.extendLease(first[3], by: .seconds(60))
            try await Task.sleep(for: .milliseconds(80))
            // Two per sweep call: the group of three is taken in part, then the rest.
            let partial = try await queue.sweep(limit: 2)
            #expect(partial.recovered == 2 && partial.more)
            #expect(try layout.grouped() == 1)
            let rest = try await queue.sweepAll(limit: 2)
            #expect(rest.recovered == 1)
            #expect(try layout.groups() == 0 && layout.grouped() == 0)
            #expect(try await queue.task(id: "s")?.state == .working)

            // The stale group token releases nothing; the redelivered tasks are on attempt 2.
            #expect(try await queue.release(Array(first[0..<3])) == [.staleLease, .staleLease, .staleLease])
            let second = try await queue.dequeue(max: 10).deliveries
            #expect(Set(second.map(\.id)) == ["p", "q", "r"])
            #expect(second.allSatisfy { $0.attempt == 2 })
            // Attempt 2 of 2 expires: dead-lettered by the sweep.
            try await Task.sleep(for: .milliseconds(80))
            let dead = try await queue.sweepAll()
            #expect(dead.deadLettered == 3)
            #expect(try await queue.task(id: "q")?.state == .dead)
            #expect(try await queue.release(first[3]) == ())
            #expect(try layout.leaseMembers() == 0 && layout.grouped() == 0)
        }
    }

    /// A sweep from before lease groups takes a group's lease member `-T` (and a grouped task's own
    /// member `id:-T`) for a task id and pushes it to `pending`; the next dequeue recognises it and
    /// gives the tasks back, dropping what that sweep wrote under the member's name.
    @Test func anOlderSweepsPushOfAGroupIsGivenBack() async throws {
        try await withSharedQueue { queue, server in
            let layout = Layout(queue, server)
            let p = layout.prefix
            try await enqueue(queue, ["a", "b", "c", "d"])
            let batch = try await queue.dequeue(max: 4).deliveries
            #expect(batch.count == 4)
            _ = try await queue.extendLease(batch[3], by: .seconds(60))
            let token = String(batch[0].lease.token)
            let own = "d:" + token
            // What a sweep of the previous version does with the two members it cannot parse.
            try server.command("ZREM", p + "leases", token, own)
            try server.command("LPUSH", p + "pending", token, own)
            try server.command("HSET", p + "state", token, "1::5:30000", own, "1::5:30000")
            try server.command("HSET", p + "errors", token, "lease expired", own, "lease expired")

            let first = try await queue.dequeue(max: 10)
            #expect(first.deliveries.isEmpty)
            #expect(try layout.groups() == 0 && layout.grouped() == 0 && layout.leaseMembers() == 0)
            for key in ["state", "errors"] {
                #expect(try server.command("HEXISTS", p + key, token).int == 0)
                #expect(try server.command("HEXISTS", p + key, own).int == 0)
            }
            let again = try await queue.dequeue(max: 10).deliveries
            #expect(Set(again.map(\.id)) == ["a", "b", "c", "d"])
            #expect(again.filter { $0.id != "d" }.allSatisfy { $0.attempt == 1 }, "the lost delivery is not counted")
            #expect(try await queue.release(again).allSatisfy { $0 == .released })
            #expect(try await queue.stats().working == 0)
        }
    }

    /// The working limit counts a group's tasks, not its one lease entry.
    @Test func theWorkingLimitCountsGroupedTasks() async throws {
        try await withSharedQueue { queue, server in
            let layout = Layout(queue, server)
            try await queue.setLimits(QueueLimits(workingLimit: 5))
            try await enqueue(queue, (0..<8).map { "w\($0)" })
            let batch = try await queue.dequeue(max: 8).deliveries
            #expect(batch.count == 5)
            #expect(try layout.leaseMembers() == 1)
            let blocked = try await queue.dequeue(max: 3)
            #expect(blocked.deliveries.isEmpty && blocked.reason == .workingLimit)
            #expect(try await queue.release(Array(batch[0..<2])) == [.released, .released])
            let next = try await queue.dequeue(max: 3).deliveries
            #expect(next.count == 2)
            #expect(try await queue.stats().working == 5)
            _ = try await queue.release(Array(batch[2...]) + next)
            #expect(try await queue.stats().working == 0)
        }
    }

    /// With `leaseGroups: false` every task of a batch has its own member and token.
    @Test func leaseGroupsCanBeTurnedOff() async throws {
        try await withSharedQueue(configuration: .init(leaseGroups: false)) { queue, server in
            let layout = Layout(queue, server)
            try await enqueue(queue, ["x", "y", "z"])
            let batch = try await queue.dequeue(max: 3).deliveries
            #expect(batch.map(\.lease.token) == [batch[0].lease.token, batch[0].lease.token + 1, batch[0].lease.token + 2])
            #expect(batch[0].lease.token > 0)
            #expect(try layout.leaseMembers() == 3 && layout.groups() == 0)
            #expect(try await queue.release(batch) == [.released, .released, .released])
        }
    }
}
