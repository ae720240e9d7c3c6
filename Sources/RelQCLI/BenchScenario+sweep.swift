import Foundation
import RelQ

/// The `sweep` scenario: expired leases swept back.
extension BenchScenario {
    /// Expired leases (enqueued in batches, dequeued with a 1 ms lease) swept back with `sweepAll`;
    /// the longest script call comes from `SLOWLOG` (threshold 0 during the sweep, restored after).
    static func sweepScenario(_ context: BenchContext) async throws -> [BenchResult] {
        let count = context.quick ? 10_000 : 100_000
        let queue = try await context.queue("relq-bench-sweep", configuration: .init(leaseTimeout: .milliseconds(1)))
        let client = context.client
        context.progress.begin("sweep: preparing \(count) expired leases")
        let batch = [ReliableQueue.NewTask](repeating: .init(payload: BenchContext.payload), count: 1000)
        for _ in 0..<(count / 1000) { try await queue.enqueue(batch: batch) }
        var leased = 0
        while leased < count {
            let taken = try await queue.dequeue(max: 1000).deliveries.count
            guard taken > 0 else { break }
            leased += taken
            context.progress.operations.add(taken, ordering: .relaxed)
        }
        try await Task.sleep(for: .milliseconds(20))

        // SLOWLOG: log every command while sweeping.
        var savedSlowlog: [(String, String)] = []
        var slowlogAvailable = true
        do {
            for parameter in ["slowlog-log-slower-than", "slowlog-max-len"] {
                let reply = try await client.send("CONFIG", "GET", parameter)
                if let value = reply.array?.last?.string { savedSlowlog.append((parameter, value)) }
            }
            _ = try await client.send("CONFIG", "SET", "slowlog-max-len", "100000")
            _ = try await client.send("CONFIG", "SET", "slowlog-log-slower-than", "0")
            _ = try await client.send("SLOWLOG", "RESET")
        } catch {
            slowlogAvailable = false
            context.progress.note("sweep: SLOWLOG unavailable (\(error)); longest call not measured")
        }

        context.progress.begin("sweep: sweepAll of \(leased) expired leases")
        let start = ContinuousClock.now
        let swept = try await queue.sweepAll(maxCalls: 100_000)  // the default limit per call
        let elapsed = ContinuousClock.now - start

        var longest: Double?
        var calls = 0
        if slowlogAvailable {
            _ = try await client.send("CONFIG", "SET", "slowlog-log-slower-than", "1000000")
            let entries = try await client.send("SLOWLOG", "GET", "-1").array ?? []
            for entry in entries {
                guard let fields = entry.array, fields.count >= 4, let micros = fields[2].int,
                      let name = fields[3].array?.first?.string?.uppercased(), name.hasPrefix("EVALSHA") else { continue }
                calls += 1
                longest = max(longest ?? 0, Double(micros) / 1000)
            }
            for (parameter, value) in savedSlowlog { _ = try await client.send("CONFIG", "SET", parameter, value) }
        }
        try await queue.deleteQueue()

        var results = [
            BenchResult(
                "sweep", "total", value: elapsed.secondsDouble * 1000, unit: "ms", goal: .atMost(1000),
                notes: "\(swept.recovered) of \(leased) expired leases recovered with sweepAll(), \(ReliableQueue.defaultSweepLimit) per call")
        ]
        if let longest {
            results.append(BenchResult(
                "sweep", "longest_call", value: longest, unit: "ms", goal: .atMost(10),
                notes: "SLOWLOG, \(calls) EVALSHA calls"))
        }
        for result in results { context.progress.note(result.summary) }
        return results
    }
}
