extension ReliableQueue {
    /// Releases a finished task and leases the next ready one in the same script call: the
    /// consumer-loop form of ``release(_:)`` followed by ``dequeueOne(wait:)``, with one round
    /// trip and one script per task instead of two (the `lua/release_dequeue.lua` protocol).
    ///
    /// ```swift
    /// var delivery = try await queue.dequeueOne(wait: .seconds(5))
    /// while let current = delivery {
    ///     // … do the work …
    ///     delivery = try await queue.releaseAndDequeue(current).next.deliveries.first
    ///         ?? queue.dequeueOne(wait: .seconds(5))
    /// }
    /// ```
    ///
    /// It never waits: when ``ReleaseAndDequeueResult/next`` holds no task (the queue is empty,
    /// paused or throttled: its ``DequeueResult/reason`` says which), wait with
    /// ``dequeue(max:wait:)``. Unlike ``release(_:)``, a stale or missing task does not throw —
    /// the next task must reach the caller — so check ``ReleaseAndDequeueResult/outcomes``.
    /// Concurrent calls are merged into one script call, like single releases and dequeues.
    /// - Parameter delivery: the delivery to finish.
    public func releaseAndDequeue(_ delivery: Delivery) async throws -> ReleaseAndDequeueResult {
        try Validation.taskID(delivery.id)
        return try await releaseAndDequeueCoalescer.submit(LeaseReference(id: delivery.id, token: delivery.lease.token))
    }

    /// Releases up to 1,000 finished deliveries and leases up to `max` ready tasks, in one script
    /// call; see ``releaseAndDequeue(_:)``.
    /// - Parameters:
    ///   - deliveries: the deliveries to finish, 1–1000.
    ///   - max: the most tasks to take, 1–1000.
    public func releaseAndDequeue(_ deliveries: [Delivery], max: Int) async throws -> ReleaseAndDequeueResult {
        try Validation.count(deliveries.count, "deliveries", maximum: Validation.maxBatch)
        try Validation.count(max, "max", maximum: Validation.maxBatch)
        for delivery in deliveries { try Validation.taskID(delivery.id) }
        let leases = deliveries.map { LeaseReference(id: $0.id, token: $0.lease.token) }
        return try await context.sendReleaseAndDequeue(leases, max: max, script: scripts.releaseDequeue, arguments: arguments)
    }
}

extension ScriptContext {
    /// One release_dequeue script call: releases `leases`, then leases up to `max` tasks (then
    /// `WAIT`, if configured). The reply is `{1, release_reply, dequeue_reply}`.
    func sendReleaseAndDequeue(
        _ leases: [ReliableQueue.LeaseReference], max: Int, script bound: BoundScript, arguments: ReliableQueue.Configuration.Validated
    ) async throws -> ReliableQueue.ReleaseAndDequeueResult {
        let count = leases.count
        let elements = try await call(bound, argumentCount: 4 + 2 * count, capacity: 48 + 48 * count) { writer in
            writer.append(max)
            writer.append(arguments.leaseMilliseconds)
            writer.append(arguments.maxAttempts)
            writer.append(count)
            for lease in leases {
                writer.append(lease.id)
                writer.append(Int(lease.token))
            }
        }
        guard elements.count == 3 else {
            throw ReliableQueueError(.scriptFailed, "script \(bound.script.name) returned \(elements.count) values, expected 3")
        }
        let outcomes = try Self.releaseOutcomes(try bound.script.elements(of: elements[1]), count: count, script: bound.script)
        metrics.released(outcomes.count(where: { $0 == .released }))
        let next = try parseDequeue(elements[2], max: max, script: bound.script)
        try await awaitDurability()
        return .init(outcomes: outcomes, next: next)
    }

    /// One release_dequeue call for several callers that each finish one task and want the next.
    func sendReleaseAndDequeueOnePerCaller(
        _ leases: [ReliableQueue.LeaseReference], script bound: BoundScript, arguments: ReliableQueue.Configuration.Validated
    ) async throws -> [ReliableQueue.ReleaseAndDequeueResult] {
        let combined = try await sendReleaseAndDequeue(leases, max: leases.count, script: bound, arguments: arguments)
        if leases.count == 1 { return [combined] }
        return zip(combined.outcomes, combined.next.onePerCaller(leases.count)).map { .init(outcomes: [$0], next: $1) }
    }
}
