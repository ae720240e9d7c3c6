extension ReliableQueue {
    /// Stores the queue's shared limits in Redis; every consumer's dequeue obeys them from its next call.
    /// - Parameter limits: the working limit and rate limit (nil fields remove a limit).
    public func setLimits(_ limits: QueueLimits) async throws {
        if let working = limits.workingLimit { try Validation.count(working, "workingLimit", maximum: 100_000_000) }
        if let rate = limits.rateLimit { try Validation.count(rate, "rateLimit", maximum: 100_000_000) }
        let window = try Validation.milliseconds(limits.rateWindow, "rateWindow", minimum: .milliseconds(1))
        _ = try await call(scripts.configure, argumentCount: 6) { writer in
            writer.append("working_limit")
            writer.append(limits.workingLimit.map(String.init) ?? "")
            writer.append("rate_limit")
            writer.append(limits.rateLimit.map(String.init) ?? "")
            writer.append("rate_window_ms")
            writer.append(limits.rateLimit == nil ? "" : String(window))
        }
    }

    /// Stops dequeues for every consumer (enqueues still work) until ``resume()``.
    public func pause() async throws {
        _ = try await call(scripts.configure, argumentCount: 2) { writer in
            writer.append("paused")
            writer.append("1")
        }
    }

    /// Lets dequeues go on after ``pause()``; waiting consumers wake at once.
    public func resume() async throws {
        _ = try await call(scripts.configure, argumentCount: 2) { writer in
            writer.append("paused")
            writer.append("0")
        }
    }

    /// Removes one task, wherever it is, with its data. A consumer holding it gets
    /// ``ReliableQueueError/Code/taskNotFound`` when it releases. Removing a pending task costs
    /// O(pending) in Redis (`LREM`), a leased one O(leases held) (its lease is found by a scan).
    /// - Parameter id: the task's id.
    /// - Returns: false when there was no such task.
    @discardableResult
    public func remove(id: TaskID) async throws -> Bool {
        try Validation.taskID(id)
        do {
            _ = try await call(scripts.remove, taskID: id, argumentCount: 1) { $0.append(id) }
            return true
        } catch let error as ReliableQueueError where error.code == .taskNotFound {
            return false
        }
    }

    /// Deletes the whole queue: every task in every state, the counters and the limits
    /// (`UNLINK` of its keys, so Redis frees the memory in the background).
    public func deleteQueue() async throws {
        _ = try await client.send(RedisCommand(["UNLINK"] + keys.all, routingKey: keys.key("meta")))
    }
}

extension RedisClient {
    /// The names of every queue that has a `meta` key, found with `SCAN` (never `KEYS`).
    public func queueNames() async throws -> [String] {
        var cursor = "0"
        var names = Set<String>()
        repeat {
            let reply = try await send(RedisCommand(["SCAN", cursor, "MATCH", QueueKeys.metaPattern, "COUNT", "1000"]))
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let keys = parts[1].array else {
                throw ReliableQueueError(.protocolError, "unexpected SCAN reply \(reply)")
            }
            for key in keys {
                if let text = key.string, let name = QueueKeys.queueName(fromMetaKey: text) { names.insert(name) }
            }
            cursor = next
        } while cursor != "0"
        return names.sorted()
    }
}
