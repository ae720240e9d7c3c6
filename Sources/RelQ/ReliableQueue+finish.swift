extension ReliableQueue {
    /// Finishes a task: removes it and its data. Fenced by the lease token.
    /// - Parameter delivery: the delivery to finish.
    /// - Throws: ``ReliableQueueError/Code/staleLease`` when the lease ran out and the task moved
    ///   on (nothing changed); ``ReliableQueueError/Code/taskNotFound`` when the task is gone
    ///   (already released or removed) — the answer to a release retried after a lost reply.
    public func release(_ delivery: Delivery) async throws {
        try await release(id: delivery.id, token: delivery.lease.token)
    }

    /// Finishes a task by id and lease token (for consumers that keep only those).
    /// - Parameters:
    ///   - id: the task's id.
    ///   - token: the lease token of the delivery.
    public func release(id: TaskID, token: Int64) async throws {
        try Validation.taskID(id)
        let outcome = try await releaseCoalescer.submit(LeaseReference(id: id, token: token))
        let status = outcome == .released ? LuaScript.Status.ok : outcome == .staleLease ? LuaScript.Status.staleLease : LuaScript.Status.notFound
        if let error = scripts.release.script.error(forStatus: status, taskID: id) { throw error }
    }

    /// Finishes many deliveries in one call per 1,000; each gets its own outcome (no throw for
    /// stale or missing tasks). Concurrent single releases are merged into one call automatically.
    ///
    /// Releasing every task of one lease group at once (the deliveries of one `dequeue(max:)` call
    /// with ``Configuration/leaseGroups``) names the group by its token instead of each task.
    /// - Parameter deliveries: the deliveries to finish.
    public func release(_ deliveries: [Delivery]) async throws -> [ReleaseOutcome] {
        if let group = Self.wholeGroup(deliveries),
            let outcomes = try await context.sendReleaseGroup(token: group, count: deliveries.count, script: scripts.release)
        {
            return outcomes
        }
        // Not a whole group, or some task left it since the dequeue (nothing changed): each pair.
        return try await release(batch: deliveries.map { LeaseReference(id: $0.id, token: $0.lease.token) })
    }

    /// The group token when `deliveries` are all the tasks one lease group's shared entry was
    /// made with (same negative token, as many distinct ids as the entry held), else nil.
    static func wholeGroup(_ deliveries: [Delivery]) -> Int64? {
        guard deliveries.count > 1, let first = deliveries.first?.lease, first.token < 0,
              first.groupSize == deliveries.count,
              deliveries.allSatisfy({ $0.lease.token == first.token && $0.lease.groupSize == first.groupSize })
        else { return nil }
        return Set(deliveries.lazy.map(\.id)).count == deliveries.count ? first.token : nil
    }

    /// A task id and the lease token of one delivery.
    struct LeaseReference: Sendable {
        let id: String
        let token: Int64
    }

    private func release(batch: [LeaseReference]) async throws -> [ReleaseOutcome] {
        guard !batch.isEmpty else { return [] }
        for item in batch { try Validation.taskID(item.id) }
        if batch.count == 1 {
            return [try await releaseCoalescer.submit(batch[0])]
        }
        var outcomes: [ReleaseOutcome] = []
        outcomes.reserveCapacity(batch.count)
        var start = 0
        while start < batch.count {
            let end = min(start + Validation.maxBatch, batch.count)
            outcomes += try await context.sendRelease(Array(batch[start..<end]), script: scripts.release)
            start = end
        }
        return outcomes
    }

    /// Gives a task back after a failed attempt: pending again (after `delay`), or dead-lettered
    /// when it has used its attempts. Fenced by the lease token.
    /// - Parameters:
    ///   - delivery: the delivery to give back.
    ///   - delay: how long before it is ready again. Default zero.
    ///   - error: why the attempt failed, kept as the task's last error.
    /// - Returns: whether the task was requeued or dead-lettered.
    @discardableResult
    public func requeue(_ delivery: Delivery, delay: Duration = .zero, error: String? = nil) async throws -> RequeueOutcome {
        try await requeue(id: delivery.id, token: delivery.lease.token, delay: delay, error: error, giveBack: false)
    }

    /// Gives a task back unprocessed (e.g. at shutdown): the attempt does not count and the task
    /// is never dead-lettered by this call. Fenced by the lease token.
    /// - Parameter delivery: the delivery to give back.
    public func giveBack(_ delivery: Delivery) async throws {
        _ = try await requeue(id: delivery.id, token: delivery.lease.token, delay: .zero, error: nil, giveBack: true)
    }

    /// Requeue by id and token; see ``requeue(_:delay:error:)``.
    /// - Parameters:
    ///   - id: the task's id.
    ///   - token: the lease token.
    ///   - delay: how long before it is ready again.
    ///   - error: the failure, kept as the last error.
    ///   - giveBack: true to not count the attempt.
    public func requeue(id: TaskID, token: Int64, delay: Duration = .zero, error: String? = nil, giveBack: Bool = false) async throws -> RequeueOutcome {
        try Validation.taskID(id)
        let delayMilliseconds = try Validation.milliseconds(delay, "delay")
        let message = error.map { String($0.utf8.prefix(4096)) ?? String($0.prefix(1024)) } ?? ""
        let elements = try await call(scripts.requeue, taskID: id, argumentCount: 7, capacity: 96 + message.utf8.count) { writer in
            writer.append(id)
            writer.append(Int(token))
            writer.append(Int(delayMilliseconds))
            writer.append(message)
            writer.append(giveBack ? "1" : "0")
            writer.append(arguments.deadMaxCount)
            writer.append(arguments.deadMaxAge)
        }
        let status = try elements.int(0, scripts.requeue.script)
        try await awaitDurability()
        if status == 2 {
            metrics.deadLettered(1)
            logger.debug("relq: task dead-lettered", metadata: ["relq.task.id": "\(id)"])
            return .deadLettered
        }
        metrics.requeued(1)
        return .requeued
    }

    /// Pushes a delivery's lease deadline out while the consumer is still working. Fenced.
    /// - Parameters:
    ///   - delivery: the delivery.
    ///   - by: the new lease, counted from now (server clock); nil uses the task's lease timeout.
    /// - Returns: the new deadline.
    @discardableResult
    public func extendLease(_ delivery: Delivery, by duration: Duration? = nil) async throws -> ServerTime {
        try await extendLease(id: delivery.id, token: delivery.lease.token, by: duration)
    }

    /// Extends a lease by id and token; see ``extendLease(_:by:)``.
    /// - Parameters:
    ///   - id: the task's id.
    ///   - token: the lease token.
    ///   - duration: the new lease from now, or nil for the task's lease timeout.
    @discardableResult
    public func extendLease(id: TaskID, token: Int64, by duration: Duration? = nil) async throws -> ServerTime {
        try Validation.taskID(id)
        let milliseconds = try duration.map { try Validation.milliseconds($0, "lease extension", minimum: .milliseconds(1)) }
        let elements = try await call(scripts.extend, taskID: id, argumentCount: 3) { writer in
            writer.append(id)
            writer.append(Int(token))
            writer.append(milliseconds.map(String.init) ?? "")
        }
        return ServerTime(millisecondsSince1970: try elements.int(1, scripts.extend.script))
    }
}

extension ScriptContext {
    /// One release script call for up to 1,000 leases (then `WAIT`, if configured).
    func sendRelease(_ batch: [ReliableQueue.LeaseReference], script bound: BoundScript) async throws -> [ReliableQueue.ReleaseOutcome] {
        let count = batch.count
        let elements = try await call(bound, argumentCount: 1 + 2 * count, capacity: 32 + 48 * count) { writer in
            writer.append(count)
            for item in batch {
                writer.append(item.id)
                writer.append(Int(item.token))
            }
        }
        let outcomes = try Self.releaseOutcomes(elements, count: count, script: bound.script)
        metrics.released(outcomes.count(where: { $0 == .released }))
        try await awaitDurability()
        return outcomes
    }

    /// One whole-group release call: releases the `count` tasks lease group `token` holds. Returns
    /// nil, with nothing changed, when the group holds another number of tasks (some left it, or it
    /// is gone): the caller then names each pair.
    func sendReleaseGroup(token: Int64, count: Int, script bound: BoundScript) async throws -> [ReliableQueue.ReleaseOutcome]? {
        let elements = try await call(bound, argumentCount: 2) { writer in
            writer.append(count)
            writer.append(Int(token))
        }
        if try elements.int(0, bound.script) == 3 { return nil }
        let outcomes = try Self.releaseOutcomes(elements, count: count, script: bound.script)
        metrics.released(outcomes.count(where: { $0 == .released }))
        try await awaitDurability()
        return outcomes
    }

    /// Decodes a release reply: `{1, status, …}`, or `{2, n}` when all `n` were released.
    static func releaseOutcomes(_ elements: [RedisReply], count: Int, script: LuaScript) throws -> [ReliableQueue.ReleaseOutcome] {
        if try elements.int(0, script) == 2 {
            guard elements.count == 2, try elements.int(1, script) == count else {
                throw ReliableQueueError(.scriptFailed, "script release returned a short reply that does not match \(count) tasks")
            }
            return Array(repeating: .released, count: count)
        }
        guard elements.count == 1 + count else {
            throw ReliableQueueError(.scriptFailed, "script release returned \(elements.count) values for \(count) tasks")
        }
        var outcomes: [ReliableQueue.ReleaseOutcome] = []
        outcomes.reserveCapacity(count)
        for index in 0..<count {
            switch try elements.int(1 + index, script) {
            case 1: outcomes.append(.released)
            case LuaScript.Status.staleLease: outcomes.append(.staleLease)
            default: outcomes.append(.notFound)
            }
        }
        return outcomes
    }
}
