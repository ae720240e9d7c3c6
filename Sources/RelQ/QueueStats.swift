/// A snapshot of one queue, read in one read-only script call (`EVALSHA_RO`).
public struct QueueStats: Sendable, Hashable, Codable {
    /// The queue's name.
    public var queue: String
    /// Tasks ready to be dequeued.
    public var pending: Int
    /// Tasks waiting for their delay to pass.
    public var delayed: Int
    /// Tasks leased to consumers.
    public var working: Int
    /// Tasks in the dead-letter queue.
    public var dead: Int
    /// Tasks enqueued since the queue was created.
    public var enqueuedTotal: Int
    /// Deliveries made since the queue was created.
    public var dequeuedTotal: Int
    /// Tasks released (finished) since the queue was created.
    public var releasedTotal: Int
    /// Tasks given back by consumers since the queue was created.
    public var requeuedTotal: Int
    /// Leases that ran out and were swept since the queue was created.
    public var timedOutTotal: Int
    /// Tasks moved to the dead-letter queue since the queue was created.
    public var deadLetteredTotal: Int
    /// How long the oldest pending task has waited, in milliseconds; nil when nothing is pending.
    public var oldestPendingAgeMilliseconds: Int64?
    /// The working limit in force, if any.
    public var workingLimit: Int?
    /// The rate limit in force (dequeues per window), if any.
    public var rateLimit: Int?
    /// The rate limit's window in milliseconds, if any.
    public var rateWindowMilliseconds: Int64?
    /// Whether dequeueing is paused.
    public var paused: Bool
    /// The server time of the snapshot, in milliseconds since 1970.
    public var serverTimeMilliseconds: Int64

    /// Creates an empty snapshot for a queue.
    /// - Parameter queue: the queue's name.
    public init(queue: String) {
        self.queue = queue
        pending = 0
        delayed = 0
        working = 0
        dead = 0
        enqueuedTotal = 0
        dequeuedTotal = 0
        releasedTotal = 0
        requeuedTotal = 0
        timedOutTotal = 0
        deadLetteredTotal = 0
        oldestPendingAgeMilliseconds = nil
        workingLimit = nil
        rateLimit = nil
        rateWindowMilliseconds = nil
        paused = false
        serverTimeMilliseconds = 0
    }
}

/// Limits shared by every consumer of a queue, stored in Redis (`relq:{queue}:meta`) and checked
/// by the dequeue script before anything moves.
public struct QueueLimits: Sendable, Hashable {
    /// The most tasks in work at once across all consumers; nil for no limit.
    public var workingLimit: Int?
    /// The most dequeued tasks per ``rateWindow``; nil for no limit.
    public var rateLimit: Int?
    /// The rate limit's fixed window. Default 1 s.
    public var rateWindow: Duration

    /// Creates limits.
    /// - Parameters:
    ///   - workingLimit: the most tasks in work at once, or nil.
    ///   - rateLimit: the most dequeues per window, or nil.
    ///   - rateWindow: the window of the rate limit.
    public init(workingLimit: Int? = nil, rateLimit: Int? = nil, rateWindow: Duration = .seconds(1)) {
        self.workingLimit = workingLimit
        self.rateLimit = rateLimit
        self.rateWindow = rateWindow
    }
}

/// One entry of the dead-letter queue.
public struct DeadLetter: Sendable, Hashable {
    /// The task's id.
    public let id: String
    /// The payload bytes.
    public let payload: [UInt8]
    /// How many deliveries the task had.
    public let attempts: Int
    /// The last error recorded for it (by a requeue or by the sweeper).
    public let lastError: String?
    /// When it was dead-lettered.
    public let deadAt: ServerTime
}

/// A page of the dead-letter queue, oldest first.
public struct DeadLetterPage: Sendable, Hashable {
    /// The entries of this page.
    public let entries: [DeadLetter]
    /// How many dead letters there are in all.
    public let total: Int
}

/// Where a task is and what is known of it (``ReliableQueue/task(id:)``).
public struct TaskInfo: Sendable, Hashable {
    /// The state a task is in: it is always in exactly one.
    public struct State: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// Ready to be dequeued.
        public static var pending: State { State(name: "pending") }
        /// Waiting for its delay.
        public static var delayed: State { State(name: "delayed") }
        /// Leased to a consumer.
        public static var working: State { State(name: "working") }
        /// In the dead-letter queue.
        public static var dead: State { State(name: "dead") }
        /// The state's name.
        public var description: String { name }
    }

    /// The task's id.
    public let id: String
    /// Where it is.
    public let state: State
    /// Deliveries so far.
    public let attempts: Int
    /// The due time (delayed), lease deadline (working) or dead-letter time (dead).
    public let time: ServerTime?
    /// When it was enqueued.
    public let enqueuedAt: ServerTime
    /// The last error recorded, if any.
    public let lastError: String?
    /// The payload bytes.
    public let payload: [UInt8]
}

/// A pending task seen by ``ReliableQueue/peek(offset:limit:)`` without taking it.
public struct PendingTask: Sendable, Hashable {
    /// The task's id.
    public let id: String
    /// The payload bytes.
    public let payload: [UInt8]
    /// When it was enqueued.
    public let enqueuedAt: ServerTime
    /// Deliveries so far (non-zero for requeued tasks).
    public let attempts: Int
}
