import Foundation
import RelQ
import Synchronization

/// The `cycle` scenario and the cycle measurement that `cost` reuses.
extension BenchScenario {
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
}
