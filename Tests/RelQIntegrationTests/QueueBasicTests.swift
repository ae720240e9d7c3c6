import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Enqueue, dequeue, release, inspection and administration on the shared server.
@Suite("Queue basics")
struct QueueBasicTests {
    @Test func fifoOrder() async throws {
        try await withSharedQueue { queue, _ in
            for index in 0..<10 { try await queue.enqueue(text: "m\(index)") }
            var seen: [String] = []
            while let delivery = try await queue.dequeueOne() {
                seen.append(delivery.payloadText)
                try await queue.release(delivery)
            }
            #expect(seen == (0..<10).map { "m\($0)" })
            // A batch keeps its order too, and a multi-task dequeue returns the oldest first.
            try await queue.enqueue(batch: (0..<20).map { .init(payload: Array("b\($0)".utf8)) })
            let deliveries = try await queue.dequeue(max: 20).deliveries
            #expect(deliveries.map(\.payloadText) == (0..<20).map { "b\($0)" })
            #expect(try await queue.release(deliveries).allSatisfy { $0 == .released })
        }
    }

    @Test func enqueueReturnsServerAndCallerIDs() async throws {
        try await withSharedQueue { queue, _ in
            let first = try await queue.enqueue(text: "a")
            let second = try await queue.enqueue(text: "b")
            #expect(first.inserted && second.inserted)
            #expect(!first.id.isEmpty && first.id != second.id)
            #expect(Validation.isValidName(first.id))
            let mine = try await queue.enqueue(text: "c", id: "order-42")
            #expect(mine == .init(id: "order-42", inserted: true))
            // A caller id that looks like the next server id is skipped by the server's sequence.
            let next = String((Int(second.id) ?? 0) + 1)
            try await queue.enqueue(text: "caller", id: next)
            let assigned = try await queue.enqueue(text: "server")
            #expect(assigned.id != next)
            #expect(try await queue.stats().pending == 5)
            // The same inside a batch: the second task's id is taken, so the batch's reply lists
            // every id (not "consecutive from the first"), the tasks before it included.
            let base = Int(assigned.id) ?? 0
            let taken = String(base + 2)
            try await queue.enqueue(text: "caller 2", id: taken)
            let batch = try await queue.enqueue(batch: ["x", "y", "z"].map { ReliableQueue.NewTask(payload: Array($0.utf8)) })
            #expect(batch.filter(\.inserted).count == 3)
            #expect(batch.first?.id == String(base + 1), "the task before the collision keeps its id: \(batch)")
            #expect(Set(batch.map(\.id)).count == 3 && !batch.map(\.id).contains(taken), "\(batch)")
            let byID = Dictionary(uniqueKeysWithValues: try await queue.dequeue(max: 20).deliveries.map { ($0.id, $0.payloadText) })
            var expected = [first.id: "a", second.id: "b", "order-42": "c", next: "caller", assigned.id: "server", taken: "caller 2"]
            for (result, text) in zip(batch, ["x", "y", "z"]) { expected[result.id] = text }
            #expect(byID == expected)
        }
    }

    /// Server ids skip the existence check only while the id fence holds (`lua/README.md`,
    /// "Server ids": the value of the `tasks` anchor): a task that an enqueue script without the
    /// fence stored meanwhile under a numeric id is never overwritten, a caller id ahead of the
    /// sequence raises the fence's bound, and the fence holds again once the queue stores no task.
    @Test func serverIDsNeverOverwriteATaskStoredWithoutTheFence() async throws {
        try await withSharedQueue { queue, server in
            let tasks = "relq:{\(queue.name)}:tasks"
            func anchor() throws -> String { try server.command("HGET", tasks, "").string ?? "" }
            let first = try await queue.enqueue(batch: ["a", "b"].map { .init(payload: Array($0.utf8)) })
            #expect(try anchor().hasPrefix("~relq fence 0~"))
            let next = (Int(first[1].id) ?? 0) + 1
            // A caller id ahead of the sequence: the bound rises; the server ids step over it.
            try await queue.enqueue(text: "caller", id: String(next + 1))
            #expect(try anchor().hasPrefix("~relq fence \(next + 1)~"))
            let stepped = try await queue.enqueue(batch: ["c", "d"].map { .init(payload: Array($0.utf8)) })
            #expect(stepped.map(\.id) == [String(next), String(next + 2)], "\(stepped)")
            // An older producer's enqueue: the task stored under the next server id, the anchor
            // rewritten to its plain value (the fence no longer holds).
            let old = String(next + 3)
            let plain = "~relq anchor~" + String(repeating: "~", count: 120)
            try server.command("HSET", tasks, "", plain, old, "\u{1}\0\0\0\0\0\0old")
            try server.command("LPUSH", "relq:{\(queue.name)}:pending", old)
            let more = try await queue.enqueue(batch: ["e", "f"].map { .init(payload: Array($0.utf8)) })
            #expect(more.allSatisfy(\.inserted) && !more.map(\.id).contains(old), "\(more)")
            #expect(try anchor() == plain)
            let deliveries = try await queue.dequeue(max: 20).deliveries
            let byID = Dictionary(uniqueKeysWithValues: deliveries.map { ($0.id, $0.payloadText) })
            #expect(byID.count == 8 && byID[old] == "old" && byID[String(next + 1)] == "caller", "\(byID)")
            // Drained: the fence holds again.
            _ = try await queue.release(deliveries)
            _ = try await queue.enqueue(text: "g")
            #expect(try anchor().hasPrefix("~relq fence 0~"))
        }
    }

    @Test func duplicateIDKeepsExactlyOneCopy() async throws {
        try await withSharedQueue { queue, _ in
            #expect(try await queue.enqueue(text: "first", id: "dup").inserted)
            #expect(try await !queue.enqueue(text: "second", id: "dup").inserted)
            let batch = try await queue.enqueue(batch: [.init(payload: [1], id: "x"), .init(payload: [2], id: "x"), .init(payload: [3], id: "dup")])
            #expect(batch.map(\.inserted) == [true, false, false])
            let stats = try await queue.stats()
            #expect(stats.pending == 2)
            #expect(stats.enqueuedTotal == 2)
            let delivery = try #require(try await queue.dequeueOne())
            #expect(delivery.id == "dup" && delivery.payloadText == "first")
            // Still a duplicate while it is being worked on.
            #expect(try await !queue.enqueue(text: "third", id: "dup").inserted)
            try await queue.release(delivery)
            // Released: the id can be used again.
            #expect(try await queue.enqueue(text: "fourth", id: "dup").inserted)
        }
    }

    @Test func delayedTaskIsInvisibleUntilDue() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(text: "later", id: "d1", delay: .milliseconds(300))
            let info = try #require(try await queue.task(id: "d1"))
            #expect(info.state == .delayed)
            let due = try #require(info.time)
            #expect(due.duration(since: info.enqueuedAt) == .milliseconds(300))
            let early = try await queue.dequeue()
            // Judged on the server clock: on a loaded machine the 300 ms may already have passed.
            if early.serverTime < due {
                #expect(early.deliveries.isEmpty)
                #expect(early.reason == .empty)
                #expect(early.retryAfter.map { $0 > .zero && $0 <= .milliseconds(300) } == true, "\(String(describing: early.retryAfter))")
            } else {
                #expect(early.deliveries.first?.id == "d1")
                if let delivery = early.deliveries.first { try await queue.giveBack(delivery) }
            }
            var delivery: Delivery?
            await eventually(timeout: .seconds(3), every: .milliseconds(20), "delayed task delivered") {
                delivery = try await queue.dequeueOne()
                return delivery != nil
            }
            let got = try #require(delivery)
            #expect(got.id == "d1")
            #expect(got.deliveredAt.duration(since: got.enqueuedAt) >= .milliseconds(300))
            #expect(got.deliveredAt >= due)
            try await queue.release(got)
        }
    }

    @Test func waitingDequeueWakesForADelayedTask() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(text: "soon", delay: .milliseconds(300))
            let (delivery, took) = try await measure { try await queue.dequeueOne(wait: .seconds(3)) }
            #expect(delivery?.payloadText == "soon")
            #expect(took >= .milliseconds(250) && took < .seconds(2), "\(took)")
        }
    }

    @Test func batchEnqueue2500AndBatchDequeue100() async throws {
        try await withSharedQueue { queue, _ in
            let tasks = (0..<2500).map { ReliableQueue.NewTask(payload: Array("p\($0)".utf8), id: "id-\($0)") }
            let results = try await queue.enqueue(batch: tasks)
            #expect(results.count == 2500)
            #expect(results.allSatisfy { $0.inserted })
            #expect(results.map(\.id) == tasks.compactMap(\.id))
            #expect(try await queue.stats().pending == 2500)
            let first = try await queue.dequeue(max: 100)
            #expect(first.deliveries.count == 100)
            #expect(first.reason == nil)
            #expect(first.deliveries.map(\.id) == (0..<100).map { "id-\($0)" })
            #expect(first.deliveries.allSatisfy { $0.attempt == 1 })
            // One lease group: one (negative) token shared; (id, token) names each delivery.
            #expect(Set(first.deliveries.map(\.lease.token)).count == 1 && first.deliveries[0].lease.token < 0)
            #expect(Set(first.deliveries.map { "\($0.id):\($0.lease.token)" }).count == 100)
            #expect(try await queue.release(first.deliveries) == Array(repeating: .released, count: 100))
            let stats = try await queue.stats()
            #expect(stats.pending == 2400 && stats.working == 0 && stats.releasedTotal == 100)
        }
    }

    @Test func releaseThenReleaseAgainIsNotFound() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(text: "once", id: "r1")
            let delivery = try #require(try await queue.dequeueOne())
            try await queue.release(delivery)
            #expect(try await queue.task(id: "r1") == nil)
            let again = await expectError(.taskNotFound) { try await queue.release(delivery) }
            #expect(again?.code != .staleLease)
            #expect(try await queue.release([delivery]) == [.notFound])
            await expectError(.taskNotFound) { try await queue.extendLease(delivery) }
            await expectError(.taskNotFound) { try await queue.requeue(delivery) }
            let stats = try await queue.stats()
            #expect(stats.releasedTotal == 1 && stats.working == 0 && stats.pending == 0)
        }
    }

    @Test func taskInfoInEveryState() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1)) { queue, _ in
            try await queue.enqueue(Array("P".utf8), id: "p")
            try await queue.enqueue(Array("D".utf8), id: "d", delay: .seconds(60))
            #expect(try await queue.task(id: "nope") == nil)

            let pending = try #require(try await queue.task(id: "p"))
            #expect(pending.state == .pending && pending.attempts == 0 && pending.time == nil && pending.payload == Array("P".utf8))
            let delayed = try #require(try await queue.task(id: "d"))
            #expect(delayed.state == .delayed)
            #expect(delayed.time.map { $0.duration(since: delayed.enqueuedAt) } == .seconds(60))

            let delivery = try #require(try await queue.dequeueOne())
            let working = try #require(try await queue.task(id: "p"))
            #expect(working.state == .working && working.attempts == 1)
            #expect(working.time == delivery.lease.deadline)
            #expect(working.enqueuedAt == delivery.enqueuedAt)

            #expect(try await queue.requeue(delivery, error: "it broke") == .deadLettered)
            let dead = try #require(try await queue.task(id: "p"))
            #expect(dead.state == .dead && dead.attempts == 1 && dead.lastError == "it broke" && dead.time != nil)
        }
    }

    @Test func removeInEveryState() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(text: "a", id: "a")
            try await queue.enqueue(text: "b", id: "b", delay: .seconds(60))
            try await queue.enqueue(text: "c", id: "c")
            #expect(try await queue.remove(id: "a"))
            #expect(try await !queue.remove(id: "a"))
            #expect(try await queue.remove(id: "b"))
            let delivery = try #require(try await queue.dequeueOne())
            #expect(delivery.id == "c")
            #expect(try await queue.remove(id: "c"))
            await expectError(.taskNotFound) { try await queue.release(delivery) }
            let stats = try await queue.stats()
            #expect(stats.pending == 0 && stats.delayed == 0 && stats.working == 0)
            #expect(try await queue.dequeueOne() == nil)
        }
    }

    @Test func pauseAndResume() async throws {
        let name = "relq-pause-\(UInt32.random(in: 0...UInt32.max))"
        try await withSharedQueue(clientName: name) { queue, server in
            try await queue.pause()
            try await queue.enqueue(text: "while paused")
            let paused = try await queue.dequeue()
            #expect(paused.deliveries.isEmpty)
            #expect(paused.reason == .paused)
            #expect(try await queue.stats().paused)
            #expect(try await queue.stats().pending == 1)
            try await queue.resume()
            #expect(try await !queue.stats().paused)
            let delivery = try #require(try await queue.dequeueOne())
            #expect(delivery.payloadText == "while paused")

            // A consumer waiting on a paused queue wakes when it is resumed.
            try await queue.pause()
            try await queue.enqueue(text: "resume me")
            let waiter = Task { try await measure { try await queue.dequeueOne(wait: .seconds(3)) } }
            await eventually(timeout: .seconds(2), every: .milliseconds(5), "the waiter blocks in BLPOP") {
                try clientListLines(server, named: name).contains { $0.contains(" cmd=blpop ") }
            }
            try await queue.resume()
            let (woken, took) = try await waiter.value
            #expect(woken?.payloadText == "resume me")
            #expect(took < .seconds(2), "\(took)")
        }
    }

    @Test func statsCountsTotalsAndOldestAge() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1)) { queue, _ in
            let empty = try await queue.stats()
            #expect(empty.pending == 0 && empty.enqueuedTotal == 0 && empty.oldestPendingAgeMilliseconds == nil)
            #expect(empty.workingLimit == nil && empty.rateLimit == nil && !empty.paused)
            #expect(empty.queue == queue.name)

            try await queue.enqueue(batch: ["a", "b", "c", "d"].map { .init(payload: Array($0.utf8), id: $0) })
            try await queue.enqueue(text: "later", id: "e", delay: .seconds(60))
            let a = try #require(try await queue.dequeueOne())
            try await queue.release(a)
            let b = try #require(try await queue.dequeueOne())
            _ = b
            let c = try #require(try await queue.dequeueOne())
            #expect(try await queue.requeue(c, error: "x") == .deadLettered)

            let stats = try await queue.stats()
            #expect(stats.pending == 1)
            #expect(stats.delayed == 1)
            #expect(stats.working == 1)
            #expect(stats.dead == 1)
            #expect(stats.enqueuedTotal == 5)
            #expect(stats.dequeuedTotal == 3)
            #expect(stats.releasedTotal == 1)
            #expect(stats.deadLetteredTotal == 1)
            #expect(stats.timedOutTotal == 0)
            #expect(stats.serverTimeMilliseconds > 1_600_000_000_000)
            let age = try #require(stats.oldestPendingAgeMilliseconds)
            #expect(age >= 0 && age < 10_000)
            await eventually(timeout: .seconds(3), "the oldest pending age grows") {
                (try await queue.stats().oldestPendingAgeMilliseconds ?? 0) >= age + 100
            }

            try await queue.setLimits(QueueLimits(workingLimit: 7, rateLimit: 50, rateWindow: .milliseconds(250)))
            let limited = try await queue.stats()
            #expect(limited.workingLimit == 7 && limited.rateLimit == 50 && limited.rateWindowMilliseconds == 250)
            try await queue.setLimits(QueueLimits())
            let cleared = try await queue.stats()
            #expect(cleared.workingLimit == nil && cleared.rateLimit == nil && cleared.rateWindowMilliseconds == nil)
        }
    }

    @Test func peekShowsPendingOldestFirst() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(batch: (0..<5).map { .init(payload: Array("x\($0)".utf8), id: "k\($0)") })
            let (tasks, total) = try await queue.peek(offset: 1, limit: 2)
            #expect(total == 5)
            #expect(tasks.map(\.id) == ["k1", "k2"])
            #expect(tasks.map { String(decoding: $0.payload, as: UTF8.self) } == ["x1", "x2"])
            #expect(try await queue.stats().pending == 5, "peek took nothing")
        }
    }

    @Test func deleteQueueRemovesEveryKey() async throws {
        try await withSharedQueue(configuration: .init(maxAttempts: 1)) { queue, server in
            try await queue.setLimits(QueueLimits(workingLimit: 100, rateLimit: 1000))
            try await queue.enqueue(batch: (0..<5).map { .init(payload: [UInt8($0)], id: "t\($0)") })
            try await queue.enqueue(text: "delayed", delay: .seconds(60))
            let deliveries = try await queue.dequeue(max: 2).deliveries
            #expect(try await queue.requeue(deliveries[0], error: "dead") == .deadLettered)
            let keys = queueKeys(queue.name)
            let existing = try #require(try RawRedis.command(port: server.port, args: ["EXISTS"] + keys).int)
            #expect(existing >= 9, "only \(existing) of the 10 keys exist before the delete")
            try await queue.deleteQueue()
            #expect(try RawRedis.command(port: server.port, args: ["EXISTS"] + keys).int == 0)
            let left = try server.command("KEYS", "relq:{\(queue.name)}:*").array
            #expect(left == [], "\(String(describing: left))")
            #expect(try await queue.stats().enqueuedTotal == 0)
            #expect(try await !queue.client.queueNames().contains(queue.name))
        }
    }

    @Test func queueNamesListsQueuesWithMeta() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(text: "x")
            #expect(try await queue.client.queueNames().contains(queue.name))
        }
    }

    @Test func jsonPayloads() async throws {
        struct Job: Codable, Equatable { var to: String; var count: Int }
        try await withSharedQueue { queue, _ in
            try await queue.enqueue(json: Job(to: "a@b", count: 3))
            let delivery = try #require(try await queue.dequeueOne())
            #expect(try delivery.decode(Job.self) == Job(to: "a@b", count: 3))
        }
    }
}
