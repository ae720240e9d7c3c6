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
        let task = try encode(NewTask(payload: payload, id: id, delay: delay, leaseTimeout: leaseTimeout, maxAttempts: maxAttempts))
        return try await enqueueCoalescer.submit(task)
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
    /// Every task is checked before anything is sent. Concurrent single-task enqueues are merged
    /// into one script call automatically.
    /// - Parameter batch: the tasks.
    /// - Returns: one result per task, in order.
    @discardableResult
    public func enqueue(batch: [NewTask]) async throws -> [EnqueueResult] {
        guard !batch.isEmpty else { throw ReliableQueueError(.invalidArgument, "an enqueue batch needs at least one task") }
        var encoded: [EncodedTask] = []
        encoded.reserveCapacity(batch.count)
        for task in batch { encoded.append(try encode(task)) }
        if encoded.count == 1 {
            return [try await enqueueCoalescer.submit(encoded[0])]
        }
        var results: [EnqueueResult] = []
        results.reserveCapacity(encoded.count)
        var start = 0
        while start < encoded.count {
            let end = min(start + Validation.maxBatch, encoded.count)
            results += try await context.sendEnqueue(Array(encoded[start..<end]), script: scripts.enqueue)
            start = end
        }
        return results
    }

    /// Checks a task and encodes its script arguments (nothing is sent).
    private func encode(_ task: NewTask) throws -> EncodedTask {
        guard task.payload.count <= configuration.maxPayloadBytes else {
            throw ReliableQueueError(.invalidArgument, "payload of \(task.payload.count) bytes exceeds maxPayloadBytes (\(configuration.maxPayloadBytes))")
        }
        if let id = task.id { try Validation.taskID(id) }
        let delay = try Validation.milliseconds(task.delay, "delay")
        let lease = try task.leaseTimeout.map { try Validation.milliseconds($0, "leaseTimeout", minimum: .milliseconds(1)) }
        if let max = task.maxAttempts { try Validation.count(max, "maxAttempts", maximum: 1_000_000) }
        return EncodedTask(
            id: task.id ?? "", payload: task.payload, delay: String(delay), lease: lease.map(String.init) ?? "",
            maxAttempts: task.maxAttempts.map(String.init) ?? "")
    }

    /// A validated task as script arguments.
    struct EncodedTask: Sendable {
        let id: String
        let payload: [UInt8]
        let delay: String
        let lease: String
        let maxAttempts: String

        /// Ready now with the queue's defaults: sent in the script's short form.
        var isPlain: Bool { delay == "0" && lease.isEmpty && maxAttempts.isEmpty }
    }
}

extension ScriptContext {
    /// One enqueue script call for up to 1,000 validated tasks (then `WAIT`, if configured).
    func sendEnqueue(_ tasks: [ReliableQueue.EncodedTask], script bound: BoundScript) async throws -> [ReliableQueue.EnqueueResult] {
        let count = tasks.count
        var capacity = 16
        for task in tasks { capacity += task.payload.count + 64 }
        // The short form (id, payload) when no task has a delay or an override, the payloads form
        // when no task has an id either: fewer arguments for Redis to parse and for Lua to intern
        // (see lua/enqueue.lua).
        let short = tasks.allSatisfy(\.isPlain)
        let payloadsOnly = short && tasks.allSatisfy(\.id.isEmpty)
        let perTask = payloadsOnly ? 1 : short ? 2 : 5
        let elements = try await call(bound, taskID: count == 1 && !tasks[0].id.isEmpty ? tasks[0].id : nil, argumentCount: 1 + perTask * count, capacity: capacity) { writer in
            writer.append(count)
            for task in tasks {
                if !payloadsOnly { writer.append(task.id) }
                writer.append(task.payload)
                if short { continue }
                writer.append(task.delay)
                writer.append(task.lease)
                writer.append(task.maxAttempts)
            }
        }
        let results = try Self.enqueueResults(elements, tasks: tasks, script: bound.script)
        metrics.enqueued(results.count(where: \.inserted))
        try await awaitDurability()
        return results
    }

    /// Decodes an enqueue reply: `{1, id, status, …}`, or `{2, first_id, n}` when every id was
    /// server-assigned (all enqueued, consecutive ids).
    private static func enqueueResults(
        _ elements: [RedisReply], tasks: [ReliableQueue.EncodedTask], script: LuaScript
    ) throws -> [ReliableQueue.EnqueueResult] {
        let count = tasks.count
        var results: [ReliableQueue.EnqueueResult] = []
        results.reserveCapacity(count)
        if try elements.int(0, script) == 2 {
            let first = try elements.int(1, script)
            guard elements.count == 3, try elements.int(2, script) == count, tasks.allSatisfy(\.id.isEmpty) else {
                throw ReliableQueueError(.scriptFailed, "script enqueue returned a short reply that does not match \(count) tasks")
            }
            for index in 0..<count { results.append(ReliableQueue.EnqueueResult(id: String(first + Int64(index)), inserted: true)) }
            return results
        }
        guard elements.count == 1 + 2 * count else {
            throw ReliableQueueError(.scriptFailed, "script enqueue returned \(elements.count) values for \(count) tasks")
        }
        for index in 0..<count {
            let id = try elements.string(1 + 2 * index, script)
            results.append(ReliableQueue.EnqueueResult(id: id, inserted: try elements.int(2 + 2 * index, script) == 1))
        }
        return results
    }
}
