import Foundation
import RelQ

enum BenchScenario: String, CaseIterable, Sendable {
    case redis, enqueue, cycle, latency, sweep, cost, reference

    func run(_ context: BenchContext) async throws -> [BenchResult] {
        switch self {
        case .redis: return try await Self.redisScenario(context)
        case .enqueue: return try await Self.enqueueScenario(context)
        case .cycle: return try await Self.cycleScenario(context)
        case .latency: return try await Self.latencyScenario(context)
        case .sweep: return try await Self.sweepScenario(context)
        case .cost: return try await Self.costScenario(context)
        case .reference: return try await Self.referenceScenario(context)
        }
    }

    // MARK: redis

    /// `SET` and `EVALSHA` of `INCR` through `RedisClient` from 1–256 concurrent callers, against
    /// `redis-benchmark -c 1 -P 1` and `-c 1 -P 16` with the same command.
    static func redisScenario(_ context: BenchContext) async throws -> [BenchResult] {
        let client = context.client
        let sha = try await client.benchLoadScript("return redis.call('INCR', KEYS[1])")
        let commands: [(name: String, arguments: [String])] = [
            ("set", ["SET", "relq-bench:set", "value"]),
            ("evalsha", ["EVALSHA", sha, "1", "relq-bench:incr"]),
        ]
        var results: [BenchResult] = []
        for (name, arguments) in commands {
            for (callers, onIOThread) in [(1, false), (1, true), (16, false), (64, false), (256, false)] {
                let suffix = onIOThread ? "_io_executor" : ""
                let outcome = try await context.paired(
                    "redis \(name) × \(callers) callers\(onIOThread ? " on the I/O executor" : "")", pipeline: callers == 1 ? 1 : 16,
                    command: arguments, workers: callers, executor: onIOThread ? client.ioExecutor() : nil
                ) { _ in
                    // Built per call, as an application would.
                    _ = try await client.send(RedisCommand(arguments))
                    return 1
                }
                let result = BenchResult(
                    "redis", "\(name)_callers_\(callers)\(suffix)", value: outcome.value, unit: "ops/s",
                    reference: outcome.reference, ratio: outcome.ratio,
                    goal: callers == 1 ? .ratioAtLeast(0.9) : callers >= 64 ? .ratioAtLeast(0.8) : nil)
                context.progress.note(result.summary)
                results.append(result)
            }
        }
        _ = try await client.send("DEL", "relq-bench:set", "relq-bench:incr")
        return results
    }

    // MARK: enqueue

    static func enqueueScenario(_ context: BenchContext) async throws -> [BenchResult] {
        let queue = try await context.queue("relq-bench-enqueue")
        let payload = BenchContext.payload
        let batch = [ReliableQueue.NewTask](repeating: .init(payload: payload), count: 100)
        var results: [BenchResult] = []
        for producers in [1, 64] {
            let measurement = try await context.timed("enqueue single × \(producers) producers", workers: producers) { _ in
                try await queue.enqueue(payload)
                return 1
            }
            results.append(BenchResult("enqueue", "single_producers_\(producers)", value: measurement.rate, unit: "tasks/s"))
            context.progress.note(results.last!.summary)
            try await queue.deleteQueue()
        }
        for producers in [1, 4] {
            let measurement = try await context.timed("enqueue batch 100 × \(producers) producers", workers: producers) { _ in
                try await queue.enqueue(batch: batch)
                return batch.count
            }
            results.append(BenchResult("enqueue", "batch100_producers_\(producers)", value: measurement.rate, unit: "tasks/s"))
            context.progress.note(results.last!.summary)
            try await queue.deleteQueue()
        }
        return results
    }

    // MARK: reference

    /// Comparable work in one script, so RelQ's client-side and protocol overhead shows as a ratio.
    /// KEYS: pending tasks meta signal; ARGV: payload. What `enqueue` does for one ready task.
    static let enqueueEquivalent = """
        local t = redis.call('TIME')
        local now = t[1] * 1000 + math.floor(t[2] / 1000)
        local id = redis.call('HINCRBY', KEYS[3], 'seq', 1)
        redis.call('HSET', KEYS[2], id, '1' .. now .. ARGV[1])
        if redis.call('LPUSH', KEYS[1], id) == 1 and redis.call('LLEN', KEYS[4]) == 0 then
          redis.call('RPUSH', KEYS[4], 1)
        end
        redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
        return {1, tostring(id), 1}
        """

    /// KEYS: pending working tasks state meta; ARGV: payload. One whole cycle (enqueue, dequeue
    /// with a lease, release) in one script call: the floor of server work per task.
    static let cycleEquivalent = """
        local t = redis.call('TIME')
        local now = t[1] * 1000 + math.floor(t[2] / 1000)
        local id = redis.call('HINCRBY', KEYS[5], 'seq', 1)
        redis.call('HSET', KEYS[3], id, '1' .. now .. ARGV[1])
        redis.call('LPUSH', KEYS[1], id)
        redis.call('HINCRBY', KEYS[5], 'enqueued', 1)
        local got = redis.call('RPOP', KEYS[1])
        local token = redis.call('HINCRBY', KEYS[5], 'dequeued', 1)
        redis.call('ZADD', KEYS[2], now + 30000, got)
        redis.call('HSET', KEYS[4], got, '1:' .. token .. ':5:30000')
        local payload = redis.call('HGET', KEYS[3], got)
        redis.call('ZREM', KEYS[2], got)
        redis.call('HDEL', KEYS[3], got)
        redis.call('HDEL', KEYS[4], got)
        redis.call('HINCRBY', KEYS[5], 'released', 1)
        return {1, got, payload}
        """

    static func referenceScenario(_ context: BenchContext) async throws -> [BenchResult] {
        guard context.reference != nil else {
            context.progress.note("reference: redis-benchmark not found on PATH; skipped")
            return []
        }
        let client = context.client
        let payload = String(repeating: "x", count: 100)
        func keys(_ parts: [String]) -> [String] { parts.map { "relq:{relq-bench-ref}:\($0)" } }
        let enqueueSHA = try await client.benchLoadScript(enqueueEquivalent)
        let cycleSHA = try await client.benchLoadScript(cycleEquivalent)
        let enqueueCommand = ["EVALSHA", enqueueSHA, "4"] + keys(["pending", "tasks", "meta", "signal"]) + [payload]
        let cycleCommand = ["EVALSHA", cycleSHA, "5"] + keys(["pending", "working", "tasks", "state", "meta"]) + [payload]
        let deleteKeys = ["DEL"] + keys(["pending", "working", "tasks", "state", "meta", "signal"])

        let cycleSingle = await context.runReference(clients: 1, pipeline: 1, requests: 50_000, command: cycleCommand)
        let cpuBefore = try await client.benchServerCPUMicroseconds()
        let cyclePipelined = await context.runReference(clients: 1, pipeline: 16, requests: 200_000, command: cycleCommand)
        let cpuAfter = try await client.benchServerCPUMicroseconds()
        let cycleRequests = context.quick ? 20_000 : 200_000
        _ = try await client.send(RedisCommand(deleteKeys))

        let queue = try await context.queue("relq-bench-ref")
        let payloadBytes = BenchContext.payload
        var results: [BenchResult] = []
        for producers in [1, 64] {
            let outcome = try await context.paired(
                "reference: RelQ enqueue × \(producers)", pipeline: producers == 1 ? 1 : 16, command: enqueueCommand, workers: producers
            ) { _ in
                try await queue.enqueue(payloadBytes)
                return 1
            }
            try await queue.deleteQueue()
            _ = try await client.send(RedisCommand(deleteKeys))
            results.append(BenchResult(
                "reference", "enqueue_single_producers_\(producers)", value: outcome.value, unit: "tasks/s",
                reference: outcome.reference, ratio: outcome.ratio,
                notes: producers == 1 ? "reference: an enqueue-equivalent script (same keys and writes) via redis-benchmark" : nil))
            context.progress.note(results.last!.summary)
        }
        let single = try await measureCycle(context, batch: 1, workers: 1)
        results.append(BenchResult(
            "reference", "cycle_single_concurrency_1", value: single.tasksPerSecond, unit: "tasks/s", reference: cycleSingle,
            notes: "reference: a whole cycle in ONE script call; RelQ makes three (enqueue, dequeue, release), so ~0.33 is par"))
        let many = try await measureCycle(context, batch: 1, workers: 64)
        results.append(BenchResult(
            "reference", "cycle_single_concurrency_64", value: many.tasksPerSecond, unit: "tasks/s", reference: cyclePipelined))
        let batched = try await measureCycle(context, batch: 100, workers: 4)
        results.append(BenchResult(
            "reference", "cycle_batch100_concurrency_4", value: batched.tasksPerSecond, unit: "tasks/s", reference: cyclePipelined))
        if cyclePipelined != nil {
            results.append(BenchResult(
                "reference", "cycle_equivalent_server_cpu", value: (cpuAfter - cpuBefore) / Double(cycleRequests), unit: "us/task",
                notes: "INFO cpu around the cycle-equivalent script at -P 16: the server's floor for one task in one call"))
        }
        for result in results.suffix(4) { context.progress.note(result.summary) }
        return results
    }
}
