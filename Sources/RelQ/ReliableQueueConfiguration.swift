extension ReliableQueue {
    /// How one `ReliableQueue` handle behaves. Shared limits (working limit, rate limit, pause)
    /// are stored in Redis instead, so every process obeys the same ones: see ``QueueLimits``.
    public struct Configuration: Sendable {
        /// How long a delivery is leased before the sweeper may hand the task to someone else,
        /// unless the task was enqueued with its own. Default 30 s.
        public var leaseTimeout: Duration
        /// How many deliveries a task gets before it is dead-lettered, unless the task was
        /// enqueued with its own. Default 5.
        public var maxAttempts: Int
        /// The largest payload accepted; larger ones are refused before reaching Redis. Default 1 MiB.
        public var maxPayloadBytes: Int
        /// How many dead letters are kept; the oldest beyond this are deleted. `nil` keeps all. Default 10,000.
        public var deadLetterMaxCount: Int?
        /// How long dead letters are kept. `nil` keeps them forever. Default 14 days.
        public var deadLetterMaxAge: Duration?
        /// Whether an enqueue or release returns only after this many replicas have it (`WAIT`).
        /// Default ``Durability/primary``: acknowledged by the primary only.
        public var durability: Durability
        /// Whether a dequeue of several tasks (`dequeue(max:)` with `max` above 1) leases them as one
        /// *lease group*: one lease entry in Redis for the whole call instead of one per task,
        /// and a release of the whole batch names only the group: a batch cycle costs the server
        /// over a third less per task. The tasks share one
        /// (negative) lease token and deadline; each is still released, requeued or extended on
        /// its own, at a cost that grows with the group's size (the group is rewritten without
        /// it), so a consumer that takes large batches but finishes their tasks one by one may
        /// prefer `false`. Merged
        /// concurrent `dequeue(max: 1)` calls and ``ConsumerService`` (whose slots finish their
        /// tasks one by one) never take a group. Default `true`. See `lua/README.md`, "Lease groups".
        public var leaseGroups: Bool

        /// Creates a configuration; every parameter has a default.
        /// - Parameters:
        ///   - leaseTimeout: the default lease of a delivery.
        ///   - maxAttempts: the default number of deliveries before dead-lettering.
        ///   - maxPayloadBytes: the largest payload accepted.
        ///   - deadLetterMaxCount: how many dead letters are kept.
        ///   - deadLetterMaxAge: how long dead letters are kept.
        ///   - durability: how many replicas must have a write before it is acknowledged.
        ///   - leaseGroups: whether a dequeue of several tasks leases them as one group.
        public init(
            leaseTimeout: Duration = .seconds(30),
            maxAttempts: Int = 5,
            maxPayloadBytes: Int = 1 << 20,
            deadLetterMaxCount: Int? = 10_000,
            deadLetterMaxAge: Duration? = .seconds(14 * 86_400),
            durability: Durability = .primary,
            leaseGroups: Bool = true
        ) {
            self.leaseTimeout = leaseTimeout
            self.maxAttempts = maxAttempts
            self.maxPayloadBytes = maxPayloadBytes
            self.deadLetterMaxCount = deadLetterMaxCount
            self.deadLetterMaxAge = deadLetterMaxAge
            self.durability = durability
            self.leaseGroups = leaseGroups
        }

        /// Checks every field; throws ``ReliableQueueError/Code/invalidArgument``.
        func validated() throws -> Validated {
            let lease = try Validation.milliseconds(leaseTimeout, "leaseTimeout", minimum: .milliseconds(1))
            guard (1...1_000_000).contains(maxAttempts) else {
                throw ReliableQueueError(.invalidArgument, "maxAttempts must be 1-1000000, got \(maxAttempts)")
            }
            guard (0...(512 << 20) - 64).contains(maxPayloadBytes) else {
                throw ReliableQueueError(.invalidArgument, "maxPayloadBytes must be 0-512 MiB (Redis's proto-max-bulk-len), got \(maxPayloadBytes)")
            }
            if let deadLetterMaxCount, !(1...100_000_000).contains(deadLetterMaxCount) {
                throw ReliableQueueError(.invalidArgument, "deadLetterMaxCount must be 1-100000000 or nil, got \(deadLetterMaxCount)")
            }
            let age = try deadLetterMaxAge.map { try Validation.milliseconds($0, "deadLetterMaxAge", minimum: .milliseconds(1)) }
            try durability.validate()
            return Validated(
                leaseMilliseconds: String(lease),
                maxAttempts: String(maxAttempts),
                deadMaxCount: deadLetterMaxCount.map(String.init) ?? "",
                deadMaxAge: age.map(String.init) ?? "",
                leaseGroups: leaseGroups)
        }

        /// The configuration as script arguments, checked once.
        struct Validated: Sendable {
            let leaseMilliseconds: String
            let maxAttempts: String
            let deadMaxCount: String
            let deadMaxAge: String
            let leaseGroups: Bool
        }
    }

    /// How many copies of a write must exist before RelQ acknowledges it.
    public struct Durability: Sendable, Hashable {
        let replicas: Int
        let timeout: Duration

        /// The primary's acknowledgement is enough (Redis's default). A failover can lose the last
        /// writes that had not reached a replica yet.
        public static var primary: Durability { Durability(replicas: 0, timeout: .zero) }

        /// After each enqueue, release and requeue, wait with `WAIT` until `count` replicas have the
        /// write, for at most `timeout`. Fewer replicas in time is an error whose outcome is unknown
        /// (the write is on the primary, maybe not on enough replicas).
        /// - Parameters:
        ///   - count: the replicas that must acknowledge, 1 or more.
        ///   - timeout: the longest wait.
        public static func replicas(_ count: Int, timeout: Duration) -> Durability {
            Durability(replicas: count, timeout: timeout)
        }

        func validate() throws {
            guard replicas >= 0, replicas <= 100 else {
                throw ReliableQueueError(.invalidArgument, "durability replicas must be 0-100, got \(replicas)")
            }
            if replicas > 0 { _ = try Validation.milliseconds(timeout, "durability timeout", minimum: .milliseconds(1)) }
        }
    }
}
