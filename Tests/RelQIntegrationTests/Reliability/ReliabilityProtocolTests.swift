import Foundation
import RelQ
import RelQTesting
import Synchronization
import Testing

/// Scenarios 3, 4, 6, 7, 8, 13 and 14: fencing, lost acks, limits, delays, poison tasks,
/// concurrent sweepers and server time. Each test runs against its own server.
@Suite(.serialized)
struct ReliabilityProtocolTests {
    /// Scenario 3: A's lease runs out, the sweeper gives the task to B; every late call of A with
    /// the old token is refused as stale, and B's release succeeds.
    @Test(.timeLimit(.minutes(1)))
    func lateAckAfterRedeliveryIsStale() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "fencing")
        try await queue.enqueue(Array("t1".utf8), id: "t1", leaseTimeout: .milliseconds(300))
        let a = try #require(try await queue.dequeueOne())
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await queue.sweep().recovered == 1)
        let b = try #require(try await queue.dequeueOne())
        #expect(b.id == "t1" && b.lease.token != a.lease.token && b.attempt == 2)

        var stale: [String: ReliableQueueError.Code] = [:]
        for (name, call) in [
            ("release", { try await queue.release(a) }),
            ("requeue", { _ = try await queue.requeue(a, error: "late") }),
            ("extend", { _ = try await queue.extendLease(a) }),
            ("giveBack", { try await queue.giveBack(a) }),
        ] as [(String, () async throws -> Void)] {
            do {
                try await call()
                Issue.record("late \(name) with the old token succeeded")
            } catch let error as ReliableQueueError {
                stale[name] = error.code
            }
        }
        #expect(stale.values.allSatisfy { $0 == .staleLease }, "\(stale)")
        let info = try #require(try await queue.task(id: "t1"))
        #expect(info.state == .working && info.time == b.lease.deadline)
        try await queue.release(b)
        #expect(try await queue.task(id: "t1") == nil)
        // After B's release the task is gone: the old token now gets taskNotFound, not stale.
        await #expect(throws: ReliableQueueError.self) { try await queue.release(a) }
        Harness.report("3-late-ack", [("late_calls", stale.count), ("stale", stale.values.filter { $0 == .staleLease }.count), ("new_holder_release", "ok")])
    }

    /// Scenario 4: the release runs but its reply is lost (the link goes dark, the call times out,
    /// then the connection is dropped). Retrying the release answers taskNotFound (not stale), and
    /// the task is never delivered again.
    @Test(.timeLimit(.minutes(1)))
    func ackLostInConnectionDropIsNotRedelivered() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let proxy = try FaultProxy.start(target: server)
        defer { proxy.stop() }
        let client = try Harness.client(proxy.url, commandTimeout: .milliseconds(300))
        defer { client.shutdown() }
        let direct = try Harness.client(server.url)
        defer { direct.shutdown() }
        let queue = try Harness.queue(client, "lostack")
        let observer = try Harness.queue(direct, "lostack")
        try await queue.enqueue(Array("once".utf8), id: "t1")
        let delivery = try #require(try await queue.dequeueOne())

        proxy.mode = .blackhole
        var firstError: ReliableQueueError?
        do { try await queue.release(delivery) } catch let error as ReliableQueueError { firstError = error }
        #expect(firstError?.isOutcomeUnknown == true, "expected timeout/connectionLost, got \(String(describing: firstError))")
        proxy.mode = .pass  // the held request reaches Redis and runs; its reply goes to a client that gave up
        let ran = try await Harness.waitUntil(timeout: .seconds(3)) { try await observer.stats().releasedTotal == 1 }
        proxy.dropAll()
        try #require(ran, "the held release never reached Redis")

        var retryCode: ReliableQueueError.Code?
        do { try await queue.release(delivery) } catch let error as ReliableQueueError { retryCode = error.code }
        #expect(retryCode == .taskNotFound)
        _ = try await queue.sweepAll()
        #expect(try await queue.dequeueOne() == nil)
        let stats = try await queue.stats()
        #expect(stats.releasedTotal == 1 && stats.dequeuedTotal == 1 && stats.pending + stats.working + stats.delayed + stats.dead == 0)
        Harness.report("4-ack-lost", [
            ("first_release", firstError.map { "\($0.code)" } ?? "ok"), ("retry", retryCode.map { "\($0)" } ?? "ok"),
            ("deliveries", stats.dequeuedTotal), ("released", stats.releasedTotal),
        ])
    }

    /// Scenario 6: working limit 5 under 20 concurrent consumers; `ZCOUNT working -inf (inf` (leases, not the anchor) sampled every ~5 ms
    /// (RawRedis, around the library) never exceeds it.
    @Test(.timeLimit(.minutes(1)))
    func workingLimitHoldsUnderConcurrency() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url) { $0.maxBlockingConnections = 32 }
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "limit")
        let limit = 5
        try await queue.setLimits(QueueLimits(workingLimit: limit))
        let taskCount = 50_000
        for start in stride(from: 0, to: taskCount, by: 1000) {
            _ = try await queue.enqueue(batch: (start..<start + 1000).map { .init(payload: [UInt8]("\($0)".utf8)) })
        }
        let stop = StopFlag()
        let released = Tally()
        let port = server.port
        let sampler = Task.detached { () -> (samples: Int, maximum: Int) in
            var samples = 0
            var maximum = 0
            while !stop.isStopped {
                if let count = try? RawRedis.command(port: port, args: ["ZCOUNT", "relq:{limit}:working", "-inf", "(inf"]).int {
                    samples += 1
                    maximum = max(maximum, count)
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return (samples, maximum)
        }
        let consumers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        while !stop.isStopped {
                            guard let delivery = try? await queue.dequeueOne(wait: .milliseconds(200)) else { continue }
                            try? await Task.sleep(for: .milliseconds(Int.random(in: 0...2)))
                            if (try? await queue.release(delivery)) != nil { released.add() }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: Harness.soak ? .seconds(10) : .seconds(3))
        stop.stop()
        await consumers.value
        let (samples, maximum) = await sampler.value
        Harness.report("6-working-limit", [("consumers", 20), ("limit", limit), ("samples", samples), ("max_working", maximum), ("released", released.count)])
        #expect(maximum <= limit)
        #expect(samples > 100)
        #expect(released.count > 0)
    }

    /// Scenario 7: requeue delays of 0, 200 ms and 1 s are respected (invisible before, visible by
    /// delay + 100 ms); invalid durations are rejected before any Redis call.
    @Test(.timeLimit(.minutes(1)))
    func requeueDelaysAreRespectedAndInvalidOnesRejected() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "delays")
        let delays: [String: Duration] = ["d0": .zero, "d200": .milliseconds(200), "d1000": .seconds(1)]
        for id in delays.keys.sorted() { try await queue.enqueue(Array(id.utf8), id: id) }
        let deliveries = try await queue.dequeue(max: 3).deliveries
        try #require(deliveries.count == 3)
        var requeuedAt: [String: ContinuousClock.Instant] = [:]
        for delivery in deliveries {
            requeuedAt[delivery.id] = .now
            #expect(try await queue.requeue(delivery, delay: delays[delivery.id]!) == .requeued)
        }
        var visibleAfter: [String: Duration] = [:]
        let deadline = ContinuousClock.now + .seconds(3)
        while visibleAfter.count < 3, ContinuousClock.now < deadline {
            for delivery in try await queue.dequeue(max: 3).deliveries {
                visibleAfter[delivery.id] = ContinuousClock.now - requeuedAt[delivery.id]!
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        Harness.report("7-delays", delays.keys.sorted().map { ($0, visibleAfter[$0].map { "\($0)" } ?? "never") })
        for (id, delay) in delays {
            let seen = try #require(visibleAfter[id], "\(id) never became visible")
            #expect(seen >= delay - .milliseconds(2), "\(id) visible after \(seen), before its delay")
            #expect(seen <= delay + .milliseconds(100), "\(id) visible only after \(seen)")
        }

        // Invalid durations: a client pointed at a closed port would answer connectionFailed to any call
        // that reached the network, so invalidArgument proves the check came first.
        let closed = try await RedisServer.start()
        let closedURL = closed.url
        closed.stop()
        let nowhere = try Harness.client(closedURL)
        defer { nowhere.shutdown() }
        let offline = try Harness.queue(nowhere, "delays")
        let fake = deliveries[0]
        var codes: [String: ReliableQueueError.Code] = [:]
        for (name, call) in [
            ("requeue negative", { _ = try await offline.requeue(fake, delay: .milliseconds(-1)) }),
            ("requeue 400 days", { _ = try await offline.requeue(fake, delay: .seconds(400 * 86_400)) }),
            ("enqueue negative delay", { _ = try await offline.enqueue([1], delay: .seconds(-5)) }),
            ("enqueue zero lease", { _ = try await offline.enqueue([1], leaseTimeout: .zero) }),
            ("extend zero", { _ = try await offline.extendLease(fake, by: .zero) }),
            ("extend sub-millisecond", { _ = try await offline.extendLease(fake, by: .microseconds(10)) }),
            ("dequeue negative wait", { _ = try await offline.dequeue(max: 1, wait: .milliseconds(-1)) }),
            ("sweep negative retry", { _ = try await offline.sweep(retryDelay: .milliseconds(-1)) }),
        ] as [(String, () async throws -> Void)] {
            do {
                try await call()
                Issue.record("\(name) was accepted")
            } catch let error as ReliableQueueError {
                codes[name] = error.code
            }
        }
        #expect(codes.count == 8 && codes.values.allSatisfy { $0 == .invalidArgument }, "\(codes)")
        #expect(throws: ReliableQueueError.self) { _ = try Harness.queue(nowhere, "x", .init(leaseTimeout: .zero)) }
        // And the same client does reach the network for a valid call.
        await #expect(throws: ReliableQueueError.self) { _ = try await offline.stats() }
    }

    /// Scenario 8: a handler that always throws, max attempts 3, fixed backoff 50 ms: exactly 3
    /// deliveries, then one dead letter with 3 attempts and the last error.
    @Test(.timeLimit(.minutes(1)))
    func poisonTaskIsDeadLetteredAfterMaxAttempts() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "poison", .init(maxAttempts: 3))
        try await queue.enqueue(Array("poison".utf8), id: "poison-1")
        let deliveries = Mutex<[Int]>([])
        struct Poison: Error, CustomStringConvertible {
            let attempt: Int
            var description: String { "poison failed on attempt \(attempt)" }
        }
        let consumer = ConsumerService(
            queue: queue,
            configuration: .init(concurrency: 2, waitTimeout: .milliseconds(200), retryBackoff: .fixed(.milliseconds(50))),
            logger: Harness.quietLogger
        ) { delivery in
            deliveries.withLock { $0.append(delivery.attempt) }
            throw Poison(attempt: delivery.attempt)
        }
        let running = Task { try await consumer.run() }
        let dead = try await Harness.waitUntil(timeout: .seconds(10)) { try await queue.stats().dead == 1 }
        try await Task.sleep(for: .milliseconds(300))  // a 4th delivery would show up here
        running.cancel()
        _ = await running.result
        try #require(dead)
        let page = try await queue.deadLetters()
        let entry = try #require(page.entries.first)
        let stats = try await queue.stats()
        Harness.report("8-poison", [("deliveries", deliveries.withLock { $0.count }), ("dead_attempts", entry.attempts), ("last_error", "\"\(entry.lastError ?? "")\"")])
        #expect(deliveries.withLock { $0 } == [1, 2, 3])
        #expect(page.total == 1 && entry.id == "poison-1" && entry.attempts == 3)
        #expect(entry.lastError == "poison failed on attempt 3")
        #expect(stats.pending == 0 && stats.working == 0 && stats.delayed == 0 && stats.deadLetteredTotal == 1)
    }

    /// Scenario 13: two sweepers (separate clients) sweep the same expired leases at once; every
    /// task is moved exactly once (recovered counts add up, pending holds each id once).
    @Test(.timeLimit(.minutes(1)))
    func twoSweepersNeverMoveATaskTwice() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let clientA = try Harness.client(server.url)
        defer { clientA.shutdown() }
        let clientB = try Harness.client(server.url)
        defer { clientB.shutdown() }
        let queueA = try Harness.queue(clientA, "sweepers", .init(leaseTimeout: .milliseconds(100), maxAttempts: 100))
        let queueB = try Harness.queue(clientB, "sweepers", .init(leaseTimeout: .milliseconds(100), maxAttempts: 100))
        let taskCount = 2000
        for start in stride(from: 0, to: taskCount, by: 1000) {
            _ = try await queueA.enqueue(batch: (start..<start + 1000).map { .init(payload: [1], id: "w-\($0)") })
        }
        let rounds = Harness.soak ? 20 : 3
        var totals: [Int] = []
        for round in 0..<rounds {
            var taken = 0
            while taken < taskCount { taken += try await queueA.dequeue(max: 1000).deliveries.count }
            try await Task.sleep(for: .milliseconds(150))
            async let a = Self.sweepUntilDone(queueA)
            async let b = Self.sweepUntilDone(queueB)
            let (recoveredA, recoveredB) = try await (a, b)
            totals.append(recoveredA + recoveredB)
            let pending = try server.command("LRANGE", "relq:{sweepers}:pending", "0", "-1", timeout: .seconds(5)).array ?? []
            let ids = pending.compactMap(\.string)
            #expect(recoveredA + recoveredB == taskCount, "round \(round): \(recoveredA) + \(recoveredB)")
            #expect(ids.count == taskCount && Set(ids).count == taskCount, "round \(round): \(ids.count) entries, \(Set(ids).count) distinct")
        }
        let stats = try await queueA.stats()
        Harness.report("13-two-sweepers", [("tasks", taskCount), ("rounds", rounds), ("recovered_per_round", totals), ("timed_out_total", stats.timedOutTotal)])
        #expect(stats.timedOutTotal == taskCount * rounds)
    }

    private static func sweepUntilDone(_ queue: ReliableQueue) async throws -> Int {
        var recovered = 0
        while true {
            let result = try await queue.sweep(limit: 50)
            recovered += result.recovered
            if !result.more && result.recovered == 0 { return recovered }
        }
    }

    /// Scenario 14: times come from Redis (`TIME` in the scripts), never from the client clock. The
    /// delivery and enqueue times fall inside a bracket of Redis `TIME` readings, the lease deadline
    /// is the server's delivery time plus the lease exactly, and no script takes a time argument.
    @Test(.timeLimit(.minutes(1)))
    func timesComeFromTheRedisClock() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "clock", .init(leaseTimeout: .milliseconds(1234)))
        let beforeEnqueue = try Harness.redisTimeMilliseconds(server)
        try await queue.enqueue(Array("tick".utf8), id: "tick")
        let beforeDequeue = try Harness.redisTimeMilliseconds(server)
        let delivery = try #require(try await queue.dequeueOne())
        let after = try Harness.redisTimeMilliseconds(server)
        #expect((beforeEnqueue...beforeDequeue).contains(delivery.enqueuedAt.millisecondsSince1970))
        #expect((beforeDequeue...after).contains(delivery.deliveredAt.millisecondsSince1970))
        #expect(delivery.lease.deadline.millisecondsSince1970 - delivery.deliveredAt.millisecondsSince1970 == 1234)
        let extended = try await queue.extendLease(delivery, by: .seconds(10))
        let afterExtend = try Harness.redisTimeMilliseconds(server)
        #expect(extended.millisecondsSince1970 <= afterExtend + 10_000 && extended.millisecondsSince1970 >= after + 10_000)

        // Static check of the protocol: every script that knows "now" reads it with TIME, and no
        // script's ARGV contract carries a time (only durations in ms).
        let lua = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lua")
        let files = try FileManager.default.contentsOfDirectory(atPath: lua.path).filter { $0.hasSuffix(".lua") }
        #expect(files.count >= 10)
        var usingTime = 0
        for file in files {
            let source = try String(contentsOf: lua.appendingPathComponent(file), encoding: .utf8)
            let argumentNames = source.split(separator: "\n").filter { $0.hasPrefix("-- ARGV") }
                .compactMap { $0.split(separator: " ").dropFirst(2).first?.lowercased() }
            #expect(!argumentNames.contains { ["now", "time", "epoch", "deadline", "timestamp"].contains(where: $0.contains) }, "\(file): \(argumentNames)")
            if source.contains("now") && source.contains("rcall('TIME')") { usingTime += 1 }
        }
        Harness.report("14-server-clock", [
            ("enqueued_in_bracket", true), ("delivered_in_bracket", true), ("lease_deadline_minus_delivered_ms", 1234), ("scripts_reading_TIME", usingTime),
        ])
    }
}
