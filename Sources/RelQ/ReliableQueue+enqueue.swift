public import Foundation

extension ReliableQueue {
    /// Enqueues one task.
    /// - Parameters:
    ///   - payload: the payload bytes (binary-safe), at most ``Configuration/maxPayloadBytes``.
    ///   - id: a caller-chosen id for idempotent enqueue: if a task with this id is still in the
    ///     queue (pending, delayed, working or dead) nothing changes and ``EnqueueResult/inserted``
    ///     is false. Pass one when you may retry after a timeout. `nil` lets Redis assign an id.
    ///   - delay: how long the task stays invisible. Default zero.
    ///   - leaseTimeout: this task's lease instead of the configured one.
    ///   - maxAttempts: this task's maximum deliveries instead of the configured one.
    /// - Returns: the task's id and whether it was inserted.
    @discardableResult
    public func enqueue(
        _ payload: [UInt8], id: TaskID? = nil, delay: Duration = .zero, leaseTimeout: Duration? = nil, maxAttempts: Int? = nil
    ) async throws -> EnqueueResult {
        let results = try await enqueue(batch: [NewTask(payload: payload, id: id, delay: delay, leaseTimeout: leaseTimeout, maxAttempts: maxAttempts)])
        return results[0]
    }

    /// Enqueues a text payload (UTF-8).
    /// - Parameters:
    ///   - text: the payload.
    ///   - id: a caller-chosen id, or nil.
    ///   - delay: how long the task stays invisible.
    @discardableResult
    public func enqueue(text: String, id: TaskID? = nil, delay: Duration = .zero) async throws -> EnqueueResult {
        try await enqueue(Array(text.utf8), id: id, delay: delay)
    }

    /// Enqueues an `Encodable` value as JSON.
    /// - Parameters:
    ///   - value: the value to encode.
    ///   - id: a caller-chosen id, or nil.
    ///   - delay: how long the task stays invisible.
    ///   - encoder: the JSON encoder.
    @discardableResult
    public func enqueue<T: Encodable>(json value: T, id: TaskID? = nil, delay: Duration = .zero, encoder: JSONEncoder = JSONEncoder()) async throws -> EnqueueResult {
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw ReliableQueueError(.invalidArgument, "the value could not be encoded as JSON: \(error)")
        }
        return try await enqueue(Array(data), id: id, delay: delay)
    }

    /// Enqueues many tasks, up to 1,000 per script call (larger batches are split, in order).
    /// Every task is checked before anything is sent.
    /// - Parameter batch: the tasks.
    /// - Returns: one result per task, in order.
    @discardableResult
    public func enqueue(batch: [NewTask]) async throws -> [EnqueueResult] {
        guard !batch.isEmpty else { throw ReliableQueueError(.invalidArgument, "an enqueue batch needs at least one task") }
        var encoded: [(id: String, delay: String, lease: String, max: String)] = []
        encoded.reserveCapacity(batch.count)
        for task in batch {
            guard task.payload.count <= configuration.maxPayloadBytes else {
                throw ReliableQueueError(.invalidArgument, "payload of \(task.payload.count) bytes exceeds maxPayloadBytes (\(configuration.maxPayloadBytes))")
            }
            if let id = task.id { try Validation.taskID(id) }
            let delay = try Validation.milliseconds(task.delay, "delay")
            let lease = try task.leaseTimeout.map { try Validation.milliseconds($0, "leaseTimeout", minimum: .milliseconds(1)) }
            if let max = task.maxAttempts { try Validation.count(max, "maxAttempts", maximum: 1_000_000) }
            encoded.append((task.id ?? "", String(delay), lease.map(String.init) ?? "", task.maxAttempts.map(String.init) ?? ""))
        }
        var results: [EnqueueResult] = []
        results.reserveCapacity(batch.count)
        var start = 0
        while start < batch.count {
            let end = min(start + Validation.maxBatch, batch.count)
            let count = end - start
            var chunkBytes = 16
            for index in start..<end { chunkBytes += batch[index].payload.count + 64 }
            let elements = try await call(scripts.enqueue, taskID: count == 1 ? batch[start].id : nil, argumentCount: 1 + 5 * count, capacity: chunkBytes) { writer in
                writer.append(count)
                for index in start..<end {
                    let fields = encoded[index]
                    writer.append(fields.id)
                    writer.append(batch[index].payload)
                    writer.append(fields.delay)
                    writer.append(fields.lease)
                    writer.append(fields.max)
                }
            }
            guard elements.count == 1 + 2 * count else {
                throw ReliableQueueError(.scriptFailed, "script enqueue returned \(elements.count) values for \(count) tasks")
            }
            var inserted = 0
            for index in 0..<count {
                let id = try elements.string(1 + 2 * index, scripts.enqueue.script)
                let status = try elements.int(2 + 2 * index, scripts.enqueue.script)
                if status == 1 { inserted += 1 }
                results.append(EnqueueResult(id: id, inserted: status == 1))
            }
            metrics.enqueued(inserted)
            start = end
        }
        try await awaitDurability()
        return results
    }
}
