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
        let referenceValue = benchMedian(references)
        return (benchMedian(values) ?? 0, referenceName.flatMap { name in referenceValue.map { (name, $0) } }, benchMedian(ratios))
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
