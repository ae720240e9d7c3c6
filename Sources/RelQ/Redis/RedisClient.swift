public import Logging
import Synchronization

/// An async Redis client over hiredis: a small pool of pipelined connections, plus dedicated
/// connections for blocking commands so that a blocking call never stalls pipelined traffic.
///
/// Each connection is owned by its own I/O thread; commands sent concurrently are pipelined
/// automatically. Connections open lazily on first use and reconnect by themselves after faults.
///
/// ```swift
/// let redis = try RedisClient(configuration: RedisConfiguration(url: "redis://127.0.0.1:6379"), logger: logger)
/// let reply = try await redis.send("SET", "greeting", "hello")
/// ```
public final class RedisClient: Sendable {
    /// The configuration the client was made with.
    public let configuration: RedisConfiguration
    let logger: Logger
    private let connections: [RedisConnection]
    private let nextConnection = Atomic<Int>(0)
    private let blockingPool: Mutex<BlockingPool>
    /// Blocking connections reserved as executors of waiting consumers (``waitExecutor()``).
    private let reserved = Mutex<[RedisConnection]>([])

    private struct BlockingPool {
        var idle: [RedisConnection] = []
        var open = 0
        var isShutdown = false
    }

    /// Creates a client. Nothing is connected until the first command.
    /// - Parameters:
    ///   - configuration: where Redis is and how to talk to it.
    ///   - logger: where connection events go (debug level; nothing per command).
    /// - Throws: ``ReliableQueueError/Code/invalidArgument`` for an invalid configuration.
    public init(configuration: RedisConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        let warmUp = LuaScripts.all.map(\.loadCommand)
        self.connections = (0..<configuration.poolSize).map { _ in
            RedisConnection(configuration: configuration, logger: logger, warmUp: warmUp, isBlocking: false)
        }
        self.blockingPool = Mutex(BlockingPool())
    }

    /// Creates a client from a `redis://` or `unix://` URL (see ``RedisConfiguration/init(url:)``).
    /// - Parameters:
    ///   - url: the server's URL.
    ///   - logger: where connection events go.
    public convenience init(url: String, logger: Logger) throws {
        try self.init(configuration: RedisConfiguration(url: url), logger: logger)
    }

    deinit {
        shutdown()
    }

    /// Closes every connection once the commands already sent have their replies;
    /// later commands fail with ``ReliableQueueError/Code/shutdown``.
    public func shutdown() {
        for connection in connections { connection.shutdown() }
        let idle = blockingPool.withLock { pool in
            pool.isShutdown = true
            defer { pool.idle.removeAll() }
            return pool.idle
        }
        for connection in idle { connection.shutdown() }
        for connection in reserved.withLock({ $0 }) { connection.shutdown() }
    }

    /// Sends a command and returns its reply.
    ///
    /// Redis error replies are thrown as ``ReliableQueueError/Code/serverError`` with Redis's message;
    /// `LOADING` and `BUSY` (the command did not run) are retried with backoff for up to
    /// ``RedisConfiguration/busyRetryLimit``.
    /// - Parameter command: the command.
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        let reply = try await sendAllowingErrorReply(command)
        if case .error(let message) = reply {
            throw ReliableQueueError(.serverError, message)
        }
        return reply
    }

    /// Sends a command given as text arguments, e.g. `send("HSET", "h", "f", "v")`.
    /// - Parameter arguments: the command name and its arguments.
    public func send(_ arguments: String...) async throws -> RedisReply {
        try await send(RedisCommand(arguments))
    }

    /// Sends a command; error replies come back as ``RedisReply/error(_:)``, except `LOADING`/`BUSY`, retried.
    func sendAllowingErrorReply(_ command: RedisCommand) async throws -> RedisReply {
        var reply = try await pickConnection().send(command)
        guard case .error(let message) = reply, Self.isRetryableBusy(message) else { return reply }
        let deadline = ContinuousClock.now + configuration.busyRetryLimit
        var delay = Duration.milliseconds(10)
        while case .error(let message) = reply, Self.isRetryableBusy(message), ContinuousClock.now + delay < deadline {
            logger.debug("relq: Redis is busy; retrying", metadata: ["relq.redis.error": "\(message.prefix(40))"])
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(500))
            reply = try await pickConnection().send(command)
        }
        return reply
    }

    /// `LOADING` (dataset loading after a restart) and `BUSY` (a script is running too long):
    /// Redis did not run the command, so it can be sent again.
    static func isRetryableBusy(_ message: String) -> Bool {
        message.hasPrefix("LOADING ") || message.hasPrefix("BUSY ")
    }

    /// Sends the command on every pipelined connection (e.g. `WAIT`, which concerns the writes of
    /// the connection it is sent on) and returns the replies.
    func sendOnEveryConnection(_ command: RedisCommand) async throws -> [RedisReply] {
        var replies: [RedisReply] = []
        for connection in connections {
            let reply = try await connection.send(command)
            if case .error(let message) = reply { throw ReliableQueueError(.serverError, message) }
            replies.append(reply)
        }
        return replies
    }

    /// An executor that runs tasks on the I/O thread of one of the client's pipelined connections
    /// (the least loaded, round robin among equals).
    ///
    /// A task that prefers it sends on that connection and resumes right there when the reply
    /// arrives: no thread hop between the caller and the I/O thread, in either direction. This is
    /// what a sequential loop of calls (a consumer, a single producer) is bound by. Use it for code
    /// that mostly waits on Redis; CPU-heavy work on it delays every command of that connection.
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(redis.ioExecutor()) {
    ///     while let delivery = try await queue.dequeueOne(wait: .seconds(5)) { … }
    /// }
    /// ```
    public func ioExecutor() -> any TaskExecutor {
        pickConnection()
    }

    /// The connection whose I/O thread runs the caller, else the least loaded one (round robin
    /// among equals).
    private func pickConnection() -> RedisConnection {
        if connections.count == 1 { return connections[0] }
        for connection in connections where connection.isCurrentThread { return connection }
        let start = nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue
        var best = connections[start % connections.count]
        var bestLoad = best.load.load(ordering: .relaxed)
        if bestLoad == 0 { return best }
        for offset in 1..<connections.count {
            let candidate = connections[(start + offset) % connections.count]
            let load = candidate.load.load(ordering: .relaxed)
            if load < bestLoad {
                best = candidate
                bestLoad = load
            }
        }
        return best
    }

    // MARK: - Blocking commands

    /// Sends a blocking command (`BLPOP …`) on a dedicated connection, so pipelined traffic never
    /// waits behind it. `timeout` is how long the server may hold the command; cancelling the task
    /// unblocks it at once (`CLIENT UNBLOCK`). Returns nil, sending nothing, when
    /// ``RedisConfiguration/maxBlockingConnections`` are all busy.
    /// - Parameters:
    ///   - command: the blocking command.
    ///   - timeout: the longest the server holds it (as given to the command itself).
    func sendBlocking(_ command: RedisCommand, timeout: Duration) async throws -> RedisReply? {
        var command = command
        command.blockingTimeout = timeout
        // A task on its own wait executor waits on that connection and resumes on its thread.
        if let own = reserved.withLock({ $0.first(where: \.isCurrentThread) }) {
            return try await sendBlocking(command, on: own)
        }
        guard let connection = try checkOutBlockingConnection() else { return nil }
        defer { checkInBlockingConnection(connection) }
        return try await sendBlocking(command, on: connection)
    }

    /// An executor for one consumer that waits for work: it runs tasks on the thread of a blocking
    /// connection reserved for them (opened on first use, closed by ``shutdown()``).
    ///
    /// A `dequeue(wait:)` from a task that prefers it waits on that connection and, when a task
    /// arrives, resumes right there: no hop to the concurrency pool between the wake-up and the
    /// caller's code, which is most of a waiting consumer's latency on a busy or small machine.
    /// Give each waiting consumer its own (a second waiter on the same executor queues behind the
    /// first); its other commands go through the pipelined connections as usual. Keep CPU-heavy
    /// work off it: while it waits, nothing else runs on its thread.
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(redis.waitExecutor()) {
    ///     while let delivery = try await queue.dequeueOne(wait: .seconds(5)) { … }
    /// }
    /// ```
    public func waitExecutor() -> any TaskExecutor {
        let connection = RedisConnection(configuration: configuration, logger: logger, warmUp: [], isBlocking: true)
        let open = reserved.withLock { list -> Bool in
            list.append(connection)
            return !blockingPool.withLock { $0.isShutdown }
        }
        if !open { connection.shutdown() }
        return connection
    }

    private func sendBlocking(_ command: RedisCommand, on connection: RedisConnection) async throws -> RedisReply {
        let reply = try await withTaskCancellationHandler {
            try await connection.send(command)
        } onCancel: {
            let id = connection.clientID.load(ordering: .relaxed)
            guard id != 0 else { return }
            Task { [self] in _ = try? await self.sendAllowingErrorReply(RedisCommand(["CLIENT", "UNBLOCK", String(id)])) }
        }
        if case .error(let message) = reply { throw ReliableQueueError(.serverError, message) }
        return reply
    }

    /// Pooled blocking connections opened so far (tests: a wait on a wait executor opens none).
    var pooledBlockingConnections: Int { blockingPool.withLock { $0.open } }

    private func checkOutBlockingConnection() throws -> RedisConnection? {
        let outcome: RedisConnection?? = blockingPool.withLock { pool in
            if pool.isShutdown { return .some(nil) }
            if let connection = pool.idle.popLast() { return connection }
            guard pool.open < configuration.maxBlockingConnections else { return nil }
            pool.open += 1
            return RedisConnection(configuration: configuration, logger: logger, warmUp: [], isBlocking: true)
        }
        switch outcome {
        case .some(.some(let connection)): return connection
        case .some(.none): throw ReliableQueueError(.shutdown, "the Redis client was shut down")
        case .none: return nil
        }
    }

    private func checkInBlockingConnection(_ connection: RedisConnection) {
        let keep = blockingPool.withLock { pool in
            if pool.isShutdown {
                pool.open -= 1
                return false
            }
            pool.idle.append(connection)
            return true
        }
        if !keep { connection.shutdown() }
    }
}
