extension ReliableQueue {
    /// Counts, totals, the oldest pending task's age and the limits in force, in one read-only call.
    public func stats() async throws -> QueueStats {
        let script = scripts.stats.script
        let elements = try await call(scripts.stats, argumentCount: 0) { _ in }
        var fields: [String: Int64] = [:]
        var index = 1
        while index + 1 < elements.count {
            if let key = elements[index].string, let value = elements[index + 1].int { fields[key] = value }
            index += 2
        }
        func value(_ key: String) throws -> Int64 {
            guard let value = fields[key] else { throw ReliableQueueError(.scriptFailed, "script \(script.name) returned no '\(key)'") }
            return value
        }
        func optional(_ key: String) -> Int64? {
            guard let value = fields[key], value >= 0 else { return nil }
            return value
        }
        var stats = QueueStats(queue: name)
        stats.pending = Int(try value("pending"))
        stats.delayed = Int(try value("delayed"))
        stats.working = Int(try value("working"))
        stats.dead = Int(try value("dead"))
        stats.enqueuedTotal = Int(try value("enqueued"))
        stats.dequeuedTotal = Int(try value("dequeued"))
        stats.releasedTotal = Int(try value("released"))
        stats.requeuedTotal = Int(try value("requeued"))
        stats.timedOutTotal = Int(try value("timed_out"))
        stats.deadLetteredTotal = Int(try value("dead_lettered"))
        stats.oldestPendingAgeMilliseconds = optional("oldest_pending_age_ms")
        stats.workingLimit = optional("working_limit").map { Int($0) }
        stats.rateLimit = optional("rate_limit").map { Int($0) }
        stats.rateWindowMilliseconds = optional("rate_window_ms")
        stats.paused = (fields["paused"] ?? 0) != 0
        stats.serverTimeMilliseconds = fields["now_ms"] ?? 0
        metrics.record(stats)
        return stats
    }

    /// Where a task is and what is known of it; nil when no task has this id.
    ///
    /// O(1) in Redis for a delayed or dead task; for a pending or leased one O(leases held), as
    /// leases are kept by lease (`id:token`), not by id (see `lua/README.md`).
    /// - Parameter id: the task's id.
    public func task(id: TaskID) async throws -> TaskInfo? {
        try Validation.taskID(id)
        let script = scripts.inspect.script
        let elements: [RedisReply]
        do {
            elements = try await call(scripts.inspect, taskID: id, argumentCount: 1) { $0.append(id) }
        } catch let error as ReliableQueueError where error.code == .taskNotFound {
            return nil
        }
        let time = try elements.int(3, script)
        let lastError = try elements.string(5, script)
        return TaskInfo(
            id: id,
            state: TaskInfo.State(name: try elements.string(1, script)),
            attempts: Int(try elements.int(2, script)),
            time: time >= 0 ? ServerTime(millisecondsSince1970: time) : nil,
            enqueuedAt: ServerTime(millisecondsSince1970: try elements.int(4, script)),
            lastError: lastError.isEmpty ? nil : lastError,
            payload: try elements.bytes(6, script))
    }

    /// Pending tasks, oldest first, without taking them.
    /// - Parameters:
    ///   - offset: how many of the oldest to skip.
    ///   - limit: the most to return, 1–1000.
    /// - Returns: the tasks and how many are pending in all.
    public func peek(offset: Int = 0, limit: Int = 10) async throws -> (tasks: [PendingTask], total: Int) {
        guard offset >= 0 else { throw ReliableQueueError(.invalidArgument, "offset must not be negative") }
        try Validation.count(limit, "limit", maximum: Validation.maxBatch)
        let script = scripts.peek.script
        let elements = try await call(scripts.peek, argumentCount: 2) { writer in
            writer.append(offset)
            writer.append(limit)
        }
        var tasks: [PendingTask] = []
        var index = 2
        while index + 3 < elements.count {
            tasks.append(PendingTask(
                id: try elements.string(index, script),
                payload: try elements.bytes(index + 1, script),
                enqueuedAt: ServerTime(millisecondsSince1970: try elements.int(index + 2, script)),
                attempts: Int(try elements.int(index + 3, script))))
            index += 4
        }
        return (tasks, Int(try elements.int(1, script)))
    }
}
