public import Logging

/// A reliable task queue on Redis: every state change is one atomic Lua script, and a task is
/// always in exactly one of pending, delayed, working or dead from enqueue until release.
///
/// ```swift
/// let redis = try RedisClient(url: "redis://127.0.0.1:6379", logger: logger)
/// let queue = try ReliableQueue(name: "emails", client: redis, logger: logger)
/// try await queue.enqueue(Array("hello".utf8))
/// if let delivery = try await queue.dequeueOne(wait: .seconds(5)) {
///     // … do the work …
///     try await queue.release(delivery)
/// }
/// ```
///
/// A consumer that crashes leaves its task in the working set until its lease runs out; the
/// sweeper (``Sweeper`` or `relq sweep`) then gives it to another consumer.
public final class ReliableQueue: Sendable {
    /// A task's id: `[A-Za-z0-9._-]{1,128}`, caller-chosen or assigned by Redis.
    public typealias TaskID = String

    /// The queue's name.
    public let name: String
    /// The client the queue talks through.
    public let client: RedisClient
    /// The queue's configuration.
    public let configuration: Configuration
    let logger: Logger
    let keys: QueueKeys
    let arguments: Configuration.Validated
    let scripts: Scripts
    let metrics: QueueMetrics
    /// What a script call needs, shared with the coalescers.
    let context: ScriptContext
    /// Merges concurrent single-task enqueues into one script call.
    let enqueueCoalescer: Coalescer<EncodedTask, EnqueueResult>
    /// Merges concurrent single-task releases into one script call.
    let releaseCoalescer: Coalescer<LeaseReference, ReleaseOutcome>
    /// Merges concurrent single-task dequeues into one script call.
    let dequeueCoalescer: Coalescer<Int, DequeueResult>
    /// Merges concurrent single-task release-and-dequeues into one script call.
    let releaseAndDequeueCoalescer: Coalescer<LeaseReference, ReleaseAndDequeueResult>

    /// The scripts bound to this queue's keys, their call prefixes encoded once.
    struct Scripts: Sendable {
        let enqueue, dequeue, release, releaseDequeue, requeue, extend, sweep, stats, inspect, remove, peek: BoundScript
        let deadList, deadRetry, deadPurge, configure: BoundScript

        init(_ keys: QueueKeys) {
            func bind(_ script: LuaScript) -> BoundScript { BoundScript(script, keys: keys.keys(for: script)) }
            enqueue = bind(LuaScripts.enqueue)
            dequeue = bind(LuaScripts.dequeue)
            release = bind(LuaScripts.release)
            releaseDequeue = bind(LuaScripts.releaseDequeue)
            requeue = bind(LuaScripts.requeue)
            extend = bind(LuaScripts.extend)
            sweep = bind(LuaScripts.sweep)
            stats = bind(LuaScripts.stats)
            inspect = bind(LuaScripts.inspect)
            remove = bind(LuaScripts.remove)
            peek = bind(LuaScripts.peek)
            deadList = bind(LuaScripts.deadList)
            deadRetry = bind(LuaScripts.deadRetry)
            deadPurge = bind(LuaScripts.deadPurge)
            configure = bind(LuaScripts.configure)
        }
    }

    /// Creates a handle on a queue. Nothing is sent to Redis: a queue exists once a task is enqueued.
    /// - Parameters:
    ///   - name: the queue's name, `[A-Za-z0-9._-]{1,128}`.
    ///   - client: the Redis client to use (share one per process).
    ///   - configuration: leases, attempts, payload limit, dead-letter retention, durability.
    ///   - logger: where the queue logs (debug level on the hot path).
    /// - Throws: ``ReliableQueueError/Code/invalidArgument`` for a bad name or configuration.
    public init(name: String, client: RedisClient, configuration: Configuration = Configuration(), logger: Logger) throws {
        try Validation.queueName(name)
        self.arguments = try configuration.validated()
        self.name = name
        self.client = client
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "relq.queue"] = "\(name)"
        self.logger = logger
        self.keys = QueueKeys(queue: name)
        self.scripts = Scripts(keys)
        self.metrics = QueueMetrics(queue: name)
        let context = ScriptContext(client: client, durability: configuration.durability, metrics: metrics)
        self.context = context
        let scripts = self.scripts
        self.enqueueCoalescer = Coalescer(maxBatch: Validation.maxBatch) { tasks in
            try await context.sendEnqueue(tasks, script: scripts.enqueue)
        }
        self.releaseCoalescer = Coalescer(maxBatch: Validation.maxBatch) { leases in
            try await context.sendRelease(leases, script: scripts.release)
        }
        let arguments = self.arguments
        self.dequeueCoalescer = Coalescer(maxBatch: Validation.maxBatch) { callers in
            try await context.sendDequeueOnePerCaller(callers: callers.count, script: scripts.dequeue, arguments: arguments)
        }
        self.releaseAndDequeueCoalescer = Coalescer(maxBatch: Validation.maxBatch) { leases in
            try await context.sendReleaseAndDequeueOnePerCaller(leases, script: scripts.releaseDequeue, arguments: arguments)
        }
    }

    /// Runs a bound script and maps its status codes (see ``ScriptContext/call(_:taskID:argumentCount:capacity:_:)``).
    func call(_ bound: BoundScript, taskID: String? = nil, argumentCount: Int, capacity: Int = 64, _ body: (inout RESPWriter) -> Void) async throws -> [RedisReply] {
        try await context.call(bound, taskID: taskID, argumentCount: argumentCount, capacity: capacity, body)
    }

    /// Sends `WAIT` after a write when ``Configuration/durability`` asks for replicas.
    func awaitDurability() async throws {
        try await context.awaitDurability()
    }
}

