extension RedisClient {
    /// Runs a bound script with `EVALSHA` (`EVALSHA_RO` for read-only scripts). On `NOSCRIPT`
    /// (the script cache is empty after a restart, a failover or `SCRIPT FLUSH`) it loads the
    /// script and retries exactly once — safe, because nothing ran.
    ///
    /// Error replies other than `NOSCRIPT` are thrown as ``ReliableQueueError/Code/serverError``.
    func run(_ command: RedisCommand, script: LuaScript) async throws -> RedisReply {
        let reply = try await sendAllowingErrorReply(command)
        guard case .error(let message) = reply else { return reply }
        guard message.hasPrefix("NOSCRIPT") else {
            throw ReliableQueueError(.serverError, "\(message) (script \(script.name))")
        }
        logger.debug("relq: script not in Redis's cache; loading it", metadata: ["relq.script": "\(script.name)"])
        let loaded = try await send(script.loadCommand)
        guard loaded.string == script.sha1 else {
            throw ReliableQueueError(.scriptFailed, "SCRIPT LOAD of \(script.name) returned \(loaded), expected \(script.sha1)")
        }
        let retried = try await sendAllowingErrorReply(command)
        if case .error(let message) = retried {
            throw ReliableQueueError(.serverError, "\(message) (script \(script.name), after reloading it)")
        }
        return retried
    }
}

extension RedisClient {
    /// `WAIT replicas timeout`: returns once `replicas` replicas acknowledged this client's writes.
    ///
    /// Sent on every pipelined connection, because a caller's write may have gone out on any of
    /// them. Fewer replicas in time throws ``ReliableQueueError/Code/timeout`` (the write is on the
    /// primary; whether it survives a failover is unknown).
    func waitForReplicas(_ replicas: Int, timeout: Duration) async throws {
        let milliseconds = max(1, timeout.wholeMilliseconds)
        let command = RedisCommand(["WAIT", String(replicas), String(milliseconds)])
        let acknowledged = try await sendOnEveryConnection(command)
        for reply in acknowledged {
            guard let count = reply.int, count >= Int64(replicas) else {
                throw ReliableQueueError(
                    .timeout,
                    "only \(reply.int ?? 0) of \(replicas) replicas acknowledged the write within \(timeout); it is on the primary, its durability is unknown")
            }
        }
    }
}
