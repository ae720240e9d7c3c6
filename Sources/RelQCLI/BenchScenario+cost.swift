import Foundation
import RelQ

/// The `cost` scenario: Redis CPU and memory per task.
extension BenchScenario {
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
                notes: "the data-structure floor: the same work as plain multi-element commands "
                    + "(HSET+LPUSH, RPOP, HMGET+ZADD+HSET of one lease group, HGET+ZREM+HDEL+HDEL; no scripts) on the encodings RelQ keeps, "
                    + "\(floor.tasks) tasks"),
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
}
