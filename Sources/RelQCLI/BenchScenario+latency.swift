import Foundation
import RelQ

/// The `latency` scenario: enqueue → dequeue times at a fixed rate.
extension BenchScenario {
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
}
