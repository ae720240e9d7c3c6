import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Limits and exactly-once delivery under concurrent consumers.
@Suite("Queue concurrency")
struct QueueConcurrencyTests {
    @Test func workingLimitNeverExceeded() async throws {
        try await withSharedQueue { queue, server in
            try await queue.setLimits(QueueLimits(workingLimit: 5))
            try await queue.enqueue(batch: (0..<3000).map { .init(payload: [UInt8($0 % 256)]) })
            let stop = Flag()
            let processed = Counter()
            let throttled = Counter()
            let maxSeen = Counter()
            let samples = Counter()
            let port = server.port
            let workingKey = "relq:{\(queue.name)}:leases"
            let sampler = Task.detached {
                while !stop.isSet {
                    if let count = try? RawRedis.command(port: port, args: ["ZCOUNT", workingKey, "-inf", "(inf"]).int {
                        maxSeen.max(count)
                        samples.add()
                    }
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            let consumers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            while !stop.isSet {
                                let result = try await queue.dequeue(max: 2)
                                if result.deliveries.isEmpty {
                                    if result.reason == .workingLimit { throttled.add() }
                                    try await Task.sleep(for: .milliseconds(1))
                                    continue
                                }
                                processed.add(result.deliveries.count)
                                _ = try await queue.release(result.deliveries)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let start = ContinuousClock.now
            await eventually(timeout: .seconds(10), "2 s of load and enough samples") {
                ContinuousClock.now - start >= .seconds(2) && samples.current >= 50
            }
            stop.set()
            try await consumers.value
            await sampler.value
            #expect(maxSeen.current <= 5, "working reached \(maxSeen.current)")
            #expect(maxSeen.current >= 1)
            #expect(processed.current > 0)
            #expect(throttled.current > 0, "the limit never pushed back")
            let stats = try await queue.stats()
            #expect(stats.working == 0 && stats.releasedTotal == processed.current && stats.workingLimit == 5)
            print("workingLimit: processed=\(processed.current) samples=\(samples.current) max=\(maxSeen.current) throttled=\(throttled.current)")
        }
    }

    @Test func rateLimitHeld() async throws {
        try await withSharedQueue { queue, _ in
            try await queue.setLimits(QueueLimits(rateLimit: 20, rateWindow: .milliseconds(500)))
            try await queue.enqueue(batch: (0..<500).map { .init(payload: [UInt8($0 % 256)]) })
            let dequeued = Counter()
            let limited = Counter()
            let deadline = ContinuousClock.now + .milliseconds(1600)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while ContinuousClock.now < deadline {
                            let result = try await queue.dequeue(max: 5)
                            dequeued.add(result.deliveries.count)
                            if result.reason == .rateLimited {
                                limited.add()
                                #expect(result.retryAfter.map { $0 > .zero && $0 <= .milliseconds(500) } == true)
                                let left = deadline - ContinuousClock.now
                                if left > .zero { try await Task.sleep(for: min(result.retryAfter ?? .milliseconds(10), left)) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(dequeued.current <= 80, "\(dequeued.current) dequeued in 1.6 s at 20 per 500 ms")
            #expect(dequeued.current >= 20)
            #expect(limited.current > 0)
            print("rateLimit: dequeued=\(dequeued.current) limited=\(limited.current)")
        }
    }

    @Test func hundredThousandTasksNoneLostNoneTwice() async throws {
        let total = 100_000
        try await withSharedQueue { queue, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for producer in 0..<4 {
                    group.addTask {
                        let share = total / 4
                        let tasks = (0..<share).map { ReliableQueue.NewTask(payload: Array("p\(producer)-\($0)".utf8)) }
                        let results = try await queue.enqueue(batch: tasks)
                        #expect(results.count == share && results.allSatisfy { $0.inserted })
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await queue.stats().pending == total)

            let seen = Collector<String>()
            let notReleased = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let result = try await queue.dequeue(max: 100)
                            if result.deliveries.isEmpty { break }
                            mine += result.deliveries.map(\.id)
                            let outcomes = try await queue.release(result.deliveries)
                            notReleased.add(outcomes.filter { $0 != .released }.count)
                        }
                        seen.append(contentsOf: mine)
                    }
                }
                try await group.waitForAll()
            }
            let ids = seen.values
            let unique = Set(ids)
            #expect(ids.count == total, "delivered \(ids.count)")
            #expect(unique.count == total, "distinct \(unique.count)")
            #expect(ids.count - unique.count == 0, "duplicates")
            #expect(notReleased.current == 0)
            let stats = try await queue.stats()
            #expect(stats.pending == 0 && stats.delayed == 0 && stats.working == 0 && stats.dead == 0)
            #expect(stats.enqueuedTotal == total && stats.dequeuedTotal == total && stats.releasedTotal == total)
        }
    }
}
