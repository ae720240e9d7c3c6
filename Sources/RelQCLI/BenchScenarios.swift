import Foundation
import Histogram
import Logging
import RelQ
import Synchronization

/// Everything a scenario needs. Scenarios use RelQ's public API only.
final class BenchContext: Sendable {
    let client: RedisClient
    let reference: ReferenceBenchmark?
    let quick: Bool
    let progress: BenchProgress
    let logger: Logger
    /// The measuring window of one timed loop.
    let window: Duration
    let warmUp: Duration
    /// Cycle measurements, reused by the `cost` scenario.
    let cycles = Mutex<[String: CycleMeasurement]>([:])

    init(client: RedisClient, reference: ReferenceBenchmark?, quick: Bool, window: Duration?, progress: BenchProgress, logger: Logger) {
        self.client = client
        self.reference = reference
        self.quick = quick
        self.window = window ?? (quick ? .milliseconds(400) : .seconds(2))
        self.warmUp = quick ? .milliseconds(100) : .milliseconds(300)
        self.progress = progress
        self.logger = logger
    }

    /// A 100-byte payload.
    static let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 100)

    func queue(_ name: String, configuration: ReliableQueue.Configuration = .init()) async throws -> ReliableQueue {
        let queue = try ReliableQueue(name: name, client: client, configuration: configuration, logger: logger)
        try await queue.deleteQueue()
        return queue
    }

    /// Runs redis-benchmark, or returns nil (with a note) when it is missing or fails.
    func runReference(clients: Int, pipeline: Int, requests: Int, command: [String]) async -> (name: String, value: Double)? {
        guard let reference else { return nil }
        let requests = quick ? max(1000, requests / 10) : requests
        let name = reference.describe(clients: clients, pipeline: pipeline, requests: requests, command: command)
        progress.begin(name)
        do {
            let rate = try await reference.run(clients: clients, pipeline: pipeline, requests: requests, command: command)
            progress.note("\(name): \(formatBenchNumber(rate)) ops/s")
            return (name, rate)
        } catch {
            progress.note("\(name) failed: \(error)")
            return nil
        }
    }

    /// Recent redis-benchmark rates, to size the next run to about one window.
    private let referenceRates = Mutex<[String: Double]>([:])

    /// Paired rounds on a shared, noisy machine: `redis-benchmark` then the RelQ loop, `rounds`
    /// times back to back, so both see the same load; returns the medians and the median of the
    /// per-round ratios (reported as the ratio).
    func paired(
        _ label: String, pipeline: Int, command: [String], workers: Int, executor: (any TaskExecutor)? = nil,
        _ body: @escaping @Sendable (Int) async throws -> Int
    ) async throws -> (value: Double, reference: (name: String, value: Double)?, ratio: Double?) {
        let rounds = quick ? 1 : 3
        let roundWindow = quick ? Duration.milliseconds(300) : min(window, .milliseconds(700))
        var values: [Double] = []
        var references: [Double] = []
        var ratios: [Double] = []
        var referenceName: String?
        let key = "\(pipeline) \(command.joined(separator: " "))"
        for round in 1...rounds {
            if let reference {
                let guess = referenceRates.withLock { $0[key] } ?? (pipeline == 1 ? 20_000 : 150_000)
                let requests = min(5_000_000, max(2_000, Int(guess * roundWindow.secondsDouble)))
                referenceName = reference.describe(clients: 1, pipeline: pipeline, requests: requests, command: command)
                progress.begin("\(label): reference round \(round)/\(rounds)")
                if let rate = try? await reference.run(clients: 1, pipeline: pipeline, requests: requests, command: command) {
                    referenceRates.withLock { $0[key] = rate }
                    references.append(rate)
                }
            }
            progress.begin("\(label): round \(round)/\(rounds)")
            let measurement = try await measureLoop(
                workers: workers, warmUp: warmUp, duration: roundWindow, progress: progress, executor: executor, body)
            values.append(measurement.rate)
            if references.count == values.count, let last = references.last, last > 0 { ratios.append(measurement.rate / last) }
        }
        func median(_ values: [Double]) -> Double? {
            guard !values.isEmpty else { return nil }
            return values.sorted()[values.count / 2]
        }
        let referenceValue = median(references)
        return (median(values) ?? 0, referenceName.flatMap { name in referenceValue.map { (name, $0) } }, median(ratios))
    }

    /// ``timed(_:workers:executor:_:)`` plus the CPU per task of the whole loop (warm-up included):
    /// the server's from `INFO cpu`, this process's from `getrusage`.
    func timedCycle(
        _ phase: String, workers: Int, executor: (any TaskExecutor)? = nil, _ body: @escaping @Sendable (Int) async throws -> Int
    ) async throws -> CycleMeasurement {
        try await client.benchSettle()
        let serverBefore = try await client.benchServerCPUMicroseconds()
        let clientBefore = benchProcessCPUMicroseconds()
        let loop = try await timed(phase, workers: workers, executor: executor, body)
        let clientAfter = benchProcessCPUMicroseconds()
        let serverAfter = try await client.benchServerCPUMicroseconds()
        let tasks = Double(max(1, loop.totalOperations))
        return CycleMeasurement(
            tasksPerSecond: loop.rate, serverMicrosecondsPerTask: (serverAfter - serverBefore) / tasks,
            clientMicrosecondsPerTask: (clientAfter - clientBefore) / tasks, tasks: loop.totalOperations)
    }

    func timed(
        _ phase: String, workers: Int, executor: (any TaskExecutor)? = nil, _ body: @escaping @Sendable (Int) async throws -> Int
    ) async throws -> LoopMeasurement {
        try await client.benchSettle()
        progress.begin(phase)
        return try await measureLoop(workers: workers, warmUp: warmUp, duration: window, progress: progress, executor: executor, body)
    }
}

/// What the latency scenario's consumers share.
final class LatencyState: Sendable {
    let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three))
    let done = Atomic<Bool>(false)

    /// The producer's schedule, shared by the scenario and its floor so that both see the same
    /// load: `send(index)` for `total` tasks at `rate` per second, the first after 100 ms (the
    /// consumers are blocked by then); then 300 ms for the last ones to arrive, and `done`.
    func produce(total: Int, rate: Int, _ send: (Int) async throws -> Void) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<total {
            let due = start + .milliseconds(100) + .microseconds(1_000_000 / rate) * index
            if due > clock.now { try await Task.sleep(until: due, tolerance: .zero, clock: clock) }
            try await send(index)
        }
        try await Task.sleep(for: .milliseconds(300))
        done.store(true, ordering: .releasing)
    }
}

struct CycleMeasurement: Sendable {
    var tasksPerSecond: Double
    var serverMicrosecondsPerTask: Double
    /// CPU of the benchmark process (all its threads) per task, over the same loop.
    var clientMicrosecondsPerTask: Double
    var tasks: Int
}

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

    // MARK: cycle

    /// Each worker loops enqueue → dequeue → release (producers and consumers concurrent; the
    /// queue stays near empty, and a dequeue never finds it empty since every worker enqueues first).
    /// With `releaseAndDequeue` (single tasks only), a worker loops enqueue → release-and-dequeue:
    /// it finishes the task it holds and takes the next in one call, as a consumer loop does.
    static func measureCycle(
        _ context: BenchContext, batch: Int, workers: Int, onIOThread: Bool = false, releaseAndDequeue: Bool = false
    ) async throws -> CycleMeasurement {
        let key = "\(batch)x\(workers)\(onIOThread ? "io" : "")\(releaseAndDequeue ? "rd" : "")"
        if let cached = context.cycles.withLock({ $0[key] }) { return cached }
        let queue = try await context.queue("relq-bench-cycle")
        let payload = BenchContext.payload
        let tasks = [ReliableQueue.NewTask](repeating: .init(payload: payload), count: batch)
        let label = batch == 1 ? "cycle single × \(workers) workers" : "cycle batch \(batch) × \(workers) workers"
        let executor = onIOThread ? context.client.ioExecutor() : nil
        let held = Mutex([Delivery?](repeating: nil, count: workers))  // release-and-dequeue: each worker's task
        let variant = (onIOThread ? " on the I/O executor" : "") + (releaseAndDequeue ? " with release-and-dequeue" : "")
        let result = try await context.timedCycle(label + variant, workers: workers, executor: executor) { worker in
            if releaseAndDequeue {
                try await queue.enqueue(payload)
                guard let current = held.withLock({ $0[worker] }) else {
                    let first = try await queue.dequeueOne()
                    held.withLock { $0[worker] = first }
                    return 0
                }
                let next = try await queue.releaseAndDequeue(current).next.deliveries.first
                held.withLock { $0[worker] = next }
                return 1  // the task released
            }
            if batch == 1 {
                try await queue.enqueue(payload)
                guard let delivery = try await queue.dequeueOne() else { return 0 }
                try await queue.release(delivery)
                return 1
            }
            try await queue.enqueue(batch: tasks)
            let deliveries = try await queue.dequeue(max: batch).deliveries
            guard !deliveries.isEmpty else { return 0 }
            _ = try await queue.release(deliveries)
            return deliveries.count
        }
        try await queue.deleteQueue()
        context.cycles.withLock { $0[key] = result }
        return result
    }

    static func cycleScenario(_ context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for (workers, onIOThread, combined) in [(1, false, false), (1, true, false), (1, false, true), (64, false, false), (256, false, false), (64, false, true)] {
            let cycle = try await measureCycle(context, batch: 1, workers: workers, onIOThread: onIOThread, releaseAndDequeue: combined)
            results.append(BenchResult(
                "cycle", "single\(combined ? "_release_dequeue" : "")_concurrency_\(workers)\(onIOThread ? "_io_executor" : "")",
                value: cycle.tasksPerSecond, unit: "tasks/s",
                goal: workers == 64 ? .atLeast(30_000) : nil,
                notes: "server CPU \(formatBenchNumber(cycle.serverMicrosecondsPerTask)) us/task, client CPU \(formatBenchNumber(cycle.clientMicrosecondsPerTask)) us/task"))
            context.progress.note(results.last!.summary)
        }
        for workers in [1, 4] {
            let cycle = try await measureCycle(context, batch: 100, workers: workers)
            results.append(BenchResult(
                "cycle", "batch100_concurrency_\(workers)", value: cycle.tasksPerSecond, unit: "tasks/s",
                goal: .atLeast(100_000),
                notes: "server CPU \(formatBenchNumber(cycle.serverMicrosecondsPerTask)) us/task, client CPU \(formatBenchNumber(cycle.clientMicrosecondsPerTask)) us/task"))
            context.progress.note(results.last!.summary)
        }
        return results
    }

    // MARK: latency

    /// Tasks enqueued at 1,000/s to idle consumers blocked in `dequeue(wait:)`; enqueue → dequeue
    /// time on the client's monotonic clock (the payload carries the timestamp).
    static func latencyScenario(_ context: BenchContext) async throws -> [BenchResult] {
        let consumers = 4
        let rate = 1000
        let total = context.quick ? 1_500 : 5_000
        let skip = rate / 5  // the first 200 ms warm up connections
        let floor = try await LatencyFloor.measure(context, consumers: consumers, rate: rate, total: total, skip: skip)
        var results = [
            BenchResult(
                "latency", "p50_floor", value: floor.p50Milliseconds, unit: "ms",
                notes: "\(floor.samples) samples: the same path with plain LPUSH / BLPOP, no scripts (the client's floor on this machine)"),
            BenchResult("latency", "p99_floor", value: floor.p99Milliseconds, unit: "ms"),
        ]
        for result in results { context.progress.note(result.summary) }
        for placement in LatencyPlacement.allCases {
            results += try await latency(
                context, placement: placement, consumers: consumers, rate: rate, total: total, skip: skip, floor: floor)
        }
        return results
    }

    /// Where the latency scenario's consumers (and producer) run.
    enum LatencyPlacement: CaseIterable {
        /// Everyone on the cooperative pool (the default).
        case pool
        /// Consumers on `RedisClient.ioExecutor()` (a pipelined connection's I/O thread).
        case ioExecutor
        /// Each consumer on its own `RedisClient.waitExecutor()`, the producer on `ioExecutor()`:
        /// no thread hop on either side of the wake-up.
        case waitExecutor

        var suffix: String {
            switch self {
            case .pool: return ""
            case .ioExecutor: return "_io_executor"
            case .waitExecutor: return "_wait_executor"
            }
        }

        var description: String {
            switch self {
            case .pool: return ""
            case .ioExecutor: return " on the I/O executor"
            case .waitExecutor: return " each on a wait executor, producer on the I/O executor"
            }
        }
    }

    static func latency(
        _ context: BenchContext, placement: LatencyPlacement, consumers: Int, rate: Int, total: Int, skip: Int, floor: LatencyFloor
    ) async throws -> [BenchResult] {
        let queue = try await context.queue("relq-bench-latency")
        let shared = LatencyState()
        let variant = placement.description
        context.progress.begin("latency: \(total) tasks at \(rate)/s to \(consumers) waiting consumers\(variant)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<consumers {
                let executor: (any TaskExecutor)?
                switch placement {
                case .pool: executor = nil
                case .ioExecutor: executor = context.client.ioExecutor()
                case .waitExecutor: executor = context.client.waitExecutor()
                }
                group.addTask(executorPreference: executor) {
                    while !shared.done.load(ordering: .acquiring) {
                        guard let delivery = try await queue.dequeueOne(wait: .milliseconds(200)) else { continue }
                        let now = benchNanoseconds()
                        let (stamp, sequence) = delivery.payload.withUnsafeBytes { raw in
                            (UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)),
                             UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
                        }
                        if sequence >= UInt64(skip) {
                            shared.histogram.withLock { _ = $0.record(now &- stamp) }
                        }
                        context.progress.operations.add(1, ordering: .relaxed)
                        try await queue.release(delivery)
                    }
                }
            }
            let producerExecutor = placement == .waitExecutor ? context.client.ioExecutor() : nil
            try await withTaskExecutorPreference(producerExecutor) {
                var payload = BenchContext.payload
                try await shared.produce(total: total, rate: rate) { index in
                    let stamp = benchNanoseconds()
                    payload.withUnsafeMutableBytes { raw in
                        raw.storeBytes(of: stamp.littleEndian, as: UInt64.self)
                        raw.storeBytes(of: UInt64(index).littleEndian, toByteOffset: 8, as: UInt64.self)
                    }
                    try await queue.enqueue(payload)
                }
            }
            try await group.waitForAll()
        }
        try await queue.deleteQueue()
        let snapshot = shared.histogram.withLock { $0 }
        func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }
        let suffix = placement.suffix
        let producer = placement == .waitExecutor ? "" : ", producer on the cooperative pool"
        let notes = "\(snapshot.totalCount) samples, \(consumers) consumers in dequeue(wait:)\(variant)\(producer)"
        let results = [
            BenchResult(
                "latency", "p50\(suffix)", value: ms(snapshot.valueAtPercentile(50)), unit: "ms",
                reference: ("p50_floor", floor.p50Milliseconds), goal: .atMost(0.3), notes: notes),
            BenchResult(
                "latency", "p99\(suffix)", value: ms(snapshot.valueAtPercentile(99)), unit: "ms",
                reference: ("p99_floor", floor.p99Milliseconds), goal: .atMost(1)),
            BenchResult("latency", "p99.9\(suffix)", value: ms(snapshot.valueAtPercentile(99.9)), unit: "ms"),
            BenchResult("latency", "max\(suffix)", value: ms(snapshot.max), unit: "ms"),
        ]
        for result in results { context.progress.note(result.summary) }
        return results
    }

    // MARK: sweep

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

    // MARK: cost

    static func costScenario(_ context: BenchContext) async throws -> [BenchResult] {
        let single = try await measureCycle(context, batch: 1, workers: 64)
        let combined = try await measureCycle(context, batch: 1, workers: 64, releaseAndDequeue: true)
        let batched = try await measureCycle(context, batch: 100, workers: 4)
        let floor = try await measureFloor(context, batch: 100, workers: 4)
        var results = [
            BenchResult(
                "cost", "server_cpu_single", value: single.serverMicrosecondsPerTask, unit: "us/task", goal: .atMost(15),
                notes: "INFO cpu over \(single.tasks) single-task cycles at concurrency 64"),
            BenchResult(
                "cost", "server_cpu_single_release_dequeue", value: combined.serverMicrosecondsPerTask, unit: "us/task", goal: .atMost(15),
                notes: "INFO cpu over \(combined.tasks) single-task cycles at concurrency 64, consumers calling releaseAndDequeue"),
            BenchResult(
                "cost", "server_cpu_floor_batch100", value: floor.serverMicrosecondsPerTask, unit: "us/task",
                notes: "the physical limit: the same data-structure work as plain multi-element commands "
                    + "(HSET+LPUSH, RPOP, HMGET+ZADD+HSET, ZREM+HDEL+HDEL; no scripts), \(floor.tasks) tasks"),
            BenchResult(
                "cost", "server_cpu_batch100", value: batched.serverMicrosecondsPerTask, unit: "us/task",
                reference: ("server_cpu_floor_batch100", floor.serverMicrosecondsPerTask), goal: .atMost(5),
                notes: "INFO cpu over \(batched.tasks) tasks in batch-100 cycles at concurrency 4; ratio = RelQ / floor"),
            BenchResult(
                "cost", "client_cpu_single", value: single.clientMicrosecondsPerTask, unit: "us/task",
                notes: "getrusage of the benchmark process (all threads) over the same single-task loop"),
            BenchResult(
                "cost", "client_cpu_single_release_dequeue", value: combined.clientMicrosecondsPerTask, unit: "us/task",
                notes: "getrusage of the benchmark process over the same release-and-dequeue loop"),
            BenchResult(
                "cost", "client_cpu_batch100", value: batched.clientMicrosecondsPerTask, unit: "us/task",
                notes: "getrusage of the benchmark process over the same batch-100 loop"),
        ]
        for result in results { context.progress.note(result.summary) }

        let count = context.quick ? 20_000 : 100_000
        context.progress.begin("cost: memory of \(count) pending 100-byte tasks")
        let queue = try await context.queue("relq-bench-memory")
        try await context.client.benchSettle()  // lazy frees of earlier scenarios
        let before = try await context.client.benchInfo("memory", "used_memory") ?? 0
        let batch = [ReliableQueue.NewTask](repeating: .init(payload: BenchContext.payload), count: 1000)
        for _ in 0..<(count / 1000) {
            try await queue.enqueue(batch: batch)
            context.progress.operations.add(batch.count, ordering: .relaxed)
        }
        let after = try await context.client.benchInfo("memory", "used_memory") ?? 0
        try await queue.deleteQueue()
        try await context.client.benchSettle()
        let deleted = try await context.client.benchInfo("memory", "used_memory") ?? 0
        let memory = BenchResult(
            "cost", "memory_per_pending_task", value: (after - before) / Double(count), unit: "bytes/task", goal: .atMost(180),
            notes: "INFO used_memory, \(count) tasks; after deleteQueue \(formatBenchNumber(deleted - before)) bytes above the start")
        context.progress.note(memory.summary)
        results.append(memory)
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
