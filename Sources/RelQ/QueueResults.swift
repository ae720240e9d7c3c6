extension ReliableQueue {
    /// A task to enqueue, for ``ReliableQueue/enqueue(batch:)``.
    public struct NewTask: Sendable, Hashable {
        /// The payload bytes.
        public var payload: [UInt8]
        /// A caller-chosen id (`[A-Za-z0-9._-]{1,128}`) for idempotent enqueue; `nil` lets Redis assign one.
        public var id: String?
        /// How long to keep the task invisible. Default zero.
        public var delay: Duration
        /// A lease for this task instead of the configured one.
        public var leaseTimeout: Duration?
        /// A maximum number of deliveries for this task instead of the configured one.
        public var maxAttempts: Int?

        /// Creates a task to enqueue.
        /// - Parameters:
        ///   - payload: the payload bytes.
        ///   - id: a caller-chosen id, or nil.
        ///   - delay: how long to keep it invisible.
        ///   - leaseTimeout: a per-task lease.
        ///   - maxAttempts: a per-task maximum of deliveries.
        public init(payload: [UInt8], id: String? = nil, delay: Duration = .zero, leaseTimeout: Duration? = nil, maxAttempts: Int? = nil) {
            self.payload = payload
            self.id = id
            self.delay = delay
            self.leaseTimeout = leaseTimeout
            self.maxAttempts = maxAttempts
        }
    }

    /// What an enqueue did.
    public struct EnqueueResult: Sendable, Hashable {
        /// The task's id (caller-chosen, or assigned by Redis).
        public let id: String
        /// False when a task with this id was already in the queue: nothing changed.
        public let inserted: Bool

        /// Creates a result.
        /// - Parameters:
        ///   - id: the task's id.
        ///   - inserted: whether the task was added.
        public init(id: String, inserted: Bool) {
            self.id = id
            self.inserted = inserted
        }
    }

    /// What a dequeue found: deliveries, or why there were none.
    public struct DequeueResult: Sendable, Hashable {
        /// The tasks now leased to the caller (empty when ``reason`` says why).
        public let deliveries: [Delivery]
        /// Why fewer tasks than asked came back, if the queue said so.
        public let reason: EmptyReason?
        /// The server time of the dequeue.
        public let serverTime: ServerTime
        /// When asking again makes sense: the next delayed task's due time or the rate window's end.
        public let retryAfter: Duration?
    }

    /// Why a dequeue returned no task.
    public struct EmptyReason: Sendable, Hashable, CustomStringConvertible {
        enum Value: Sendable, Hashable { case empty, paused, workingLimit, rateLimited }
        let value: Value

        /// No task is ready.
        public static var empty: EmptyReason { EmptyReason(value: .empty) }
        /// The queue is paused (``ReliableQueue/pause()``).
        public static var paused: EmptyReason { EmptyReason(value: .paused) }
        /// The queue's working limit is reached: nothing moved.
        public static var workingLimit: EmptyReason { EmptyReason(value: .workingLimit) }
        /// The queue's rate limit is used up for this window: nothing moved.
        public static var rateLimited: EmptyReason { EmptyReason(value: .rateLimited) }

        /// The reason's name.
        public var description: String {
            switch value {
            case .empty: return "empty"
            case .paused: return "paused"
            case .workingLimit: return "workingLimit"
            case .rateLimited: return "rateLimited"
            }
        }
    }

    /// The outcome of releasing one task in a batch.
    public struct ReleaseOutcome: Sendable, Hashable, CustomStringConvertible {
        enum Value: Sendable, Hashable { case released, staleLease, notFound }
        let value: Value

        /// The task was finished and removed.
        public static var released: ReleaseOutcome { ReleaseOutcome(value: .released) }
        /// The lease token no longer holds the task; nothing changed.
        public static var staleLease: ReleaseOutcome { ReleaseOutcome(value: .staleLease) }
        /// The task is gone: already released or removed; nothing changed.
        public static var notFound: ReleaseOutcome { ReleaseOutcome(value: .notFound) }

        /// The outcome's name.
        public var description: String {
            switch value {
            case .released: return "released"
            case .staleLease: return "staleLease"
            case .notFound: return "notFound"
            }
        }
    }

    /// What ``ReliableQueue/releaseAndDequeue(_:)`` did: each release's outcome and the next tasks.
    public struct ReleaseAndDequeueResult: Sendable, Hashable {
        /// One outcome per released delivery, in the order given.
        public let outcomes: [ReleaseOutcome]
        /// The tasks the same call leased to the caller, or why there were none.
        public let next: DequeueResult
    }

    /// What a requeue did.
    public struct RequeueOutcome: Sendable, Hashable, CustomStringConvertible {
        enum Value: Sendable, Hashable { case requeued, deadLettered }
        let value: Value

        /// The task is pending (or delayed) again.
        public static var requeued: RequeueOutcome { RequeueOutcome(value: .requeued) }
        /// The task had used its attempts and is now in the dead-letter queue.
        public static var deadLettered: RequeueOutcome { RequeueOutcome(value: .deadLettered) }

        /// The outcome's name.
        public var description: String { value == .requeued ? "requeued" : "deadLettered" }
    }

    /// What one sweep call moved.
    public struct SweepResult: Sendable, Hashable {
        /// Tasks whose lease ran out, given back to pending (or delayed, with a retry delay).
        public var recovered: Int
        /// Tasks whose lease ran out on their last attempt, moved to the dead-letter queue.
        public var deadLettered: Int
        /// Delayed tasks that came due and moved to pending.
        public var promoted: Int
        /// Dead letters deleted by the retention rules.
        public var trimmed: Int
        /// Whether more expired leases were left for another call.
        public var more: Bool

        /// Creates a result.
        public init(recovered: Int = 0, deadLettered: Int = 0, promoted: Int = 0, trimmed: Int = 0, more: Bool = false) {
            self.recovered = recovered
            self.deadLettered = deadLettered
            self.promoted = promoted
            self.trimmed = trimmed
            self.more = more
        }
    }
}
