extension ReliableQueue {
    /// A page of the dead-letter queue, oldest first.
    /// - Parameters:
    ///   - offset: how many of the oldest to skip.
    ///   - limit: the most to return, 1–1000.
    public func deadLetters(offset: Int = 0, limit: Int = 100) async throws -> DeadLetterPage {
        guard offset >= 0 else { throw ReliableQueueError(.invalidArgument, "offset must not be negative") }
        try Validation.count(limit, "limit", maximum: Validation.maxBatch)
        let script = scripts.deadList.script
        let elements = try await call(scripts.deadList, argumentCount: 2) { writer in
            writer.append(offset)
            writer.append(limit)
        }
        var entries: [DeadLetter] = []
        var index = 2
        while index + 4 < elements.count {
            let lastError = try elements.string(index + 3, script)
            entries.append(DeadLetter(
                id: try elements.string(index, script),
                payload: try elements.bytes(index + 1, script),
                attempts: Int(try elements.int(index + 2, script)),
                lastError: lastError.isEmpty ? nil : lastError,
                deadAt: ServerTime(millisecondsSince1970: try elements.int(index + 4, script))))
            index += 5
        }
        return DeadLetterPage(entries: entries, total: Int(try elements.int(1, script)))
    }

    /// Moves the named dead letters back to pending with a fresh attempt count.
    /// - Parameter ids: the tasks, at most 1,000.
    /// - Returns: how many were moved (ids not in the dead-letter queue are skipped).
    @discardableResult
    public func retryDeadLetters(ids: [TaskID]) async throws -> Int {
        try await deadLetterAction(scripts.deadRetry, ids: ids)
    }

    /// Moves every dead letter back to pending with a fresh attempt count (1,000 per script call).
    /// - Returns: how many were moved.
    @discardableResult
    public func retryAllDeadLetters() async throws -> Int {
        try await deadLetterActionOnAll(scripts.deadRetry)
    }

    /// Deletes the named dead letters.
    /// - Parameter ids: the tasks, at most 1,000.
    /// - Returns: how many were deleted.
    @discardableResult
    public func purgeDeadLetters(ids: [TaskID]) async throws -> Int {
        try await deadLetterAction(scripts.deadPurge, ids: ids)
    }

    /// Deletes every dead letter (1,000 per script call).
    /// - Returns: how many were deleted.
    @discardableResult
    public func purgeAllDeadLetters() async throws -> Int {
        try await deadLetterActionOnAll(scripts.deadPurge)
    }

    private func deadLetterAction(_ bound: BoundScript, ids: [TaskID]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        try Validation.count(ids.count, "ids", maximum: Validation.maxBatch)
        for id in ids { try Validation.taskID(id) }
        let elements = try await call(bound, argumentCount: 1 + ids.count, capacity: 32 + 40 * ids.count) { writer in
            writer.append("ids")
            for id in ids { writer.append(id) }
        }
        return Int(try elements.int(1, bound.script))
    }

    private func deadLetterActionOnAll(_ bound: BoundScript) async throws -> Int {
        var total = 0
        while true {
            let elements = try await call(bound, argumentCount: 2) { writer in
                writer.append("all")
                writer.append(Validation.maxBatch)
            }
            let done = Int(try elements.int(1, bound.script))
            total += done
            if try elements.int(2, bound.script) == 0 || done == 0 { return total }
        }
    }
}
