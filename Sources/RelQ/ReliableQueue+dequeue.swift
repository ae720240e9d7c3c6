extension ReliableQueue {
    /// Takes up to `max` ready tasks, oldest first, each leased to the caller.
    ///
    /// Delayed tasks that came due become ready as part of the call. The working limit, rate
    /// limit and pause (``QueueLimits``) are checked before anything moves: a throttled dequeue
    /// changes nothing and says why in ``DequeueResult/reason``.
    ///
    /// With `wait`, the call blocks (on a dedicated connection, without polling) until a task is
    /// ready or `wait` has passed; an enqueue wakes it within about a millisecond.
    ///
    /// Concurrent calls with `max: 1` are merged into one script call; each caller still gets its
    /// own delivery (or none, with the shared reason).
    ///
    /// With `max` above 1 (and ``Configuration/leaseGroups``, the default) the call's tasks are
    /// leased as one *lease group*: one lease entry in Redis, one negative token shared by the
    /// deliveries. Releasing them together (`release(deliveries)`) is cheapest; each can still
    /// be released, requeued or extended alone.
    /// - Parameters:
    ///   - max: the most tasks to take, 1–1000.
    ///   - wait: how long to wait for a task; nil returns at once.
    public func dequeue(max: Int = 1, wait: Duration? = nil) async throws -> DequeueResult {
        try await dequeue(max: max, wait: wait, leaseGroup: arguments.leaseGroups)
    }

    /// ``dequeue(max:wait:)`` with the lease group chosen per call: `leaseGroup` false for callers
    /// that finish the tasks one by one (``ConsumerService``), where a group would be rewritten at
    /// every release.
    func dequeue(max: Int, wait: Duration?, leaseGroup: Bool) async throws -> DequeueResult {
        try Validation.count(max, "max", maximum: Validation.maxBatch)
        if let wait { _ = try Validation.milliseconds(wait, "wait") }
        let deadline = wait.map { ContinuousClock.now + $0 }
        while true {
            let result = try await dequeueNow(max: max, leaseGroup: leaseGroup)
            guard result.deliveries.isEmpty, let deadline else { return result }
            let remaining = deadline - .now
            guard remaining > .milliseconds(1) else { return result }
            var block = remaining
            if let retryAfter = result.retryAfter, retryAfter > .zero { block = min(block, retryAfter) }
            if result.reason == .rateLimited {
                try await Task.sleep(for: block)
            } else if let woken = try await waitForSignalThenDequeue(block, max: max, leaseGroup: leaseGroup), !woken.deliveries.isEmpty {
                return woken  // even when cancelled meanwhile: these tasks are leased to the caller now
            }
            try Task.checkCancellation()
        }
    }

    /// Takes one ready task, waiting up to `wait` for one; nil when none came (or the queue is
    /// paused or throttled for longer than the wait).
    /// - Parameter wait: how long to wait; nil returns at once.
    public func dequeueOne(wait: Duration? = nil) async throws -> Delivery? {
        try await dequeue(max: 1, wait: wait).deliveries.first
    }

    private func dequeueNow(max: Int, leaseGroup: Bool) async throws -> DequeueResult {
        if max == 1 {
            return try await dequeueCoalescer.submit(1)
        }
        return try await context.sendDequeue(max: max, leaseGroup: leaseGroup, script: scripts.dequeue, arguments: arguments)
    }

    /// Blocks on the queue's `signal` list (`BLPOP`) for up to `duration` — enqueues, releases under
    /// a working limit, resumes and requeues push a token there — with the dequeue script pipelined
    /// right behind it on the same blocking connection: Redis runs it the moment the `BLPOP`
    /// returns, so a wake-up costs one round trip. Returns that dequeue's result, or nil when it
    /// could not run there (every blocking connection busy, or the script must be reloaded).
    func waitForSignalThenDequeue(_ duration: Duration, max: Int, leaseGroup: Bool) async throws -> DequeueResult? {
        let milliseconds = Swift.max(1, duration.wholeMilliseconds)
        let seconds = "\(milliseconds / 1000).\(String(milliseconds % 1000 + 1000).dropFirst())"
        let wait = RedisCommand(["BLPOP", keys.key("signal"), seconds], routingKey: keys.key("signal"))
        let dequeue = context.dequeueCommand(max: max, leaseGroup: leaseGroup, script: scripts.dequeue, arguments: arguments)
        guard let reply = try await client.sendBlocking(.pipeline([wait, dequeue]), timeout: duration) else {
            // Every blocking connection is busy: fall back to a short sleep.
            try await Task.sleep(for: Swift.min(duration, .milliseconds(20)))
            return nil
        }
        guard let replies = reply.array, replies.count == 2 else {
            throw ReliableQueueError(.protocolError, "BLPOP + dequeue returned \(reply)")
        }
        if case .error(let message) = replies[1], message.hasPrefix("NOSCRIPT") || RedisClient.isRetryableBusy(message) {
            return nil  // the caller's next dequeue goes through the path that reloads and retries
        }
        if case .error(let message) = replies[1] {
            throw ReliableQueueError(.serverError, "\(message) (script dequeue)")
        }
        return try context.parseDequeue(replies[1], max: max, script: scripts.dequeue.script)
    }
}

extension ScriptContext {
    /// One dequeue script call for up to `max` tasks.
    func sendDequeue(max: Int, leaseGroup: Bool, script bound: BoundScript, arguments: ReliableQueue.Configuration.Validated) async throws -> ReliableQueue.DequeueResult {
        let command = dequeueCommand(max: max, leaseGroup: leaseGroup, script: bound, arguments: arguments)
        return try parseDequeue(try await client.run(command, script: bound.script), max: max, script: bound.script)
    }

    /// The dequeue script call for up to `max` tasks: a lease group when `max` is above 1 and
    /// `leaseGroup` asks for one (the script's 4th argument).
    func dequeueCommand(max: Int, leaseGroup: Bool, script bound: BoundScript, arguments: ReliableQueue.Configuration.Validated) -> RedisCommand {
        let group = max > 1 && leaseGroup
        return bound.command(argumentCount: group ? 4 : 3) { writer in
            writer.append(max)
            writer.append(arguments.leaseMilliseconds)
            writer.append(arguments.maxAttempts)
            if group { writer.append("1") }
        }
    }

    /// Turns a dequeue script reply into a result (and records the metrics).
    func parseDequeue(_ reply: RedisReply, max: Int, script: LuaScript) throws -> ReliableQueue.DequeueResult {
        let elements = try script.elements(of: reply)
        let status = try elements.int(0, script)
        let now = ServerTime(millisecondsSince1970: try elements.int(1, script))
        switch status {
        case 1:
            // first token, shared deadline, n; then 2 values per task (id, stored value); then d and
            // d (task number, deadline) pairs for tasks with their own lease; then (task number,
            // attempt) pairs for tasks past their first delivery. A negative first token is a lease
            // group's: every task of the call holds it.
            let firstToken = try elements.int(2, script)
            let sharedDeadline = try elements.int(3, script)
            let count = Int(try elements.int(4, script))
            let countAt = 5 + 2 * count
            guard count >= 0, countAt < elements.count else {
                throw ReliableQueueError(.scriptFailed, "script dequeue returned \(elements.count) values for \(count) tasks")
            }
            let overrides = Int(try elements.int(countAt, script))
            let attemptsAt = countAt + 1 + 2 * overrides
            guard overrides >= 0, attemptsAt <= elements.count, (elements.count - attemptsAt) % 2 == 0 else {
                throw ReliableQueueError(.scriptFailed, "script dequeue returned \(elements.count) values for \(count) tasks and \(overrides) deadlines")
            }
            // Both allocated only when some task needs them (rare).
            var deadlines: [Int64]?
            var attempts: [Int]?
            for index in stride(from: countAt + 1, to: elements.count, by: 2) {
                let task = Int(try elements.int(index, script))
                guard task >= 1, task <= count else {
                    throw ReliableQueueError(.scriptFailed, "script dequeue returned a value for task \(task) of \(count)")
                }
                let value = try elements.int(index + 1, script)
                if index < attemptsAt {
                    if deadlines == nil { deadlines = [Int64](repeating: sharedDeadline, count: count) }
                    deadlines![task - 1] = value
                } else {
                    if attempts == nil { attempts = [Int](repeating: 1, count: count) }
                    attempts![task - 1] = Int(value)
                }
            }
            // A lease group's shared entry holds the tasks without a deadline of their own.
            let groupSize = firstToken < 0 ? count - overrides : 0
            var deliveries: [Delivery] = []
            deliveries.reserveCapacity(count)
            for index in 0..<count {
                let base = 5 + 2 * index
                let value = try elements.taskValue(base + 1, script)
                deliveries.append(Delivery(
                    id: try elements.string(base, script),
                    payload: value.payload,
                    attempt: attempts?[index] ?? 1,
                    lease: Lease(
                        token: firstToken < 0 ? firstToken : firstToken + Int64(index),
                        deadline: ServerTime(millisecondsSince1970: deadlines?[index] ?? sharedDeadline),
                        groupSize: deadlines == nil || deadlines![index] == sharedDeadline ? groupSize : 0),
                    enqueuedAt: ServerTime(millisecondsSince1970: value.enqueuedMilliseconds),
                    deliveredAt: now))
            }
            metrics.dequeued(deliveries)
            return .init(deliveries: deliveries, reason: count < max ? .empty : nil, serverTime: now, retryAfter: nil)
        case 2:
            let nextDue = try elements.int(2, script)
            return .init(deliveries: [], reason: .empty, serverTime: now, retryAfter: nextDue >= 0 ? .milliseconds(nextDue) : nil)
        case 3:
            return .init(deliveries: [], reason: .paused, serverTime: now, retryAfter: nil)
        case 4:
            return .init(deliveries: [], reason: .workingLimit, serverTime: now, retryAfter: nil)
        case 5:
            let retry = try elements.int(2, script)
            return .init(deliveries: [], reason: .rateLimited, serverTime: now, retryAfter: .milliseconds(Swift.max(1, retry)))
        default:
            throw ReliableQueueError(.scriptFailed, "script dequeue returned the unknown status \(status)")
        }
    }

    /// One dequeue call for several callers that each asked for one task: the first callers get a
    /// delivery each, in arrival order; the others get no task and the call's reason. No lease
    /// group: each caller releases its task on its own.
    func sendDequeueOnePerCaller(callers: Int, script bound: BoundScript, arguments: ReliableQueue.Configuration.Validated) async throws -> [ReliableQueue.DequeueResult] {
        try await sendDequeue(max: callers, leaseGroup: false, script: bound, arguments: arguments).onePerCaller(callers)
    }
}

extension ReliableQueue.DequeueResult {
    /// Splits the result of one dequeue made for `callers` callers that each asked for one task:
    /// the first callers get a delivery each, in order; the others none and the call's reason.
    func onePerCaller(_ callers: Int) -> [Self] {
        if callers == 1 { return [self] }  // a lone caller: its result as is, no copies
        return (0..<callers).map { index in
            if index < deliveries.count {
                return .init(deliveries: [deliveries[index]], reason: nil, serverTime: serverTime, retryAfter: nil)
            }
            return .init(deliveries: [], reason: reason ?? .empty, serverTime: serverTime, retryAfter: retryAfter)
        }
    }
}
