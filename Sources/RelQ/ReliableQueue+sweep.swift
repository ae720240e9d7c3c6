extension ReliableQueue {
    /// The default number of expired leases per sweep script call: 500 keeps a call to a few
    /// milliseconds of Redis time (Redis runs nothing else meanwhile), with a margin for a slow
    /// moment of the server; the 1,000 allowed measured up to 14 ms on a loaded 2-core VM
    /// (Benchmarks/README.md).
    public static let defaultSweepLimit = 500

    /// Moves tasks whose lease ran out back to pending (or to delayed with `retryDelay`), or to
    /// the dead-letter queue when they used their attempts; also promotes due delayed tasks and
    /// applies dead-letter retention. One bounded script call; safe with several sweepers at once.
    /// - Parameters:
    ///   - limit: the most expired leases handled by this call, 1–1000. Default ``defaultSweepLimit``.
    ///   - retryDelay: how long a recovered task waits before it is ready again. Default zero.
    public func sweep(limit: Int = ReliableQueue.defaultSweepLimit, retryDelay: Duration = .zero) async throws -> SweepResult {
        try Validation.count(limit, "sweep limit", maximum: Validation.maxBatch)
        let delay = try Validation.milliseconds(retryDelay, "retryDelay")
        let script = scripts.sweep.script
        let elements = try await call(scripts.sweep, argumentCount: 4) { writer in
            writer.append(limit)
            writer.append(Int(delay))
            writer.append(arguments.deadMaxCount)
            writer.append(arguments.deadMaxAge)
        }
        let result = SweepResult(
            recovered: Int(try elements.int(1, script)),
            deadLettered: Int(try elements.int(2, script)),
            promoted: Int(try elements.int(3, script)),
            trimmed: Int(try elements.int(4, script)),
            more: try elements.int(5, script) != 0)
        metrics.swept(result)
        return result
    }

    /// Sweeps until no expired lease is left (or `maxCalls` calls were made), adding up the results.
    /// - Parameters:
    ///   - limit: the most leases per call. Default ``defaultSweepLimit``.
    ///   - retryDelay: how long a recovered task waits.
    ///   - maxCalls: the most script calls.
    public func sweepAll(limit: Int = ReliableQueue.defaultSweepLimit, retryDelay: Duration = .zero, maxCalls: Int = 1000) async throws -> SweepResult {
        var total = SweepResult()
        for _ in 0..<Swift.max(1, maxCalls) {
            let result = try await sweep(limit: limit, retryDelay: retryDelay)
            total.recovered += result.recovered
            total.deadLettered += result.deadLettered
            total.promoted += result.promoted
            total.trimmed += result.trimmed
            total.more = result.more
            if !result.more { break }
        }
        return total
    }
}
