public import Foundation

/// A task handed to a consumer by ``ReliableQueue/dequeue(max:wait:)``, under a lease.
///
/// Finish it with ``ReliableQueue/release(_:)``, give it back with
/// ``ReliableQueue/requeue(_:delay:error:)``, or keep working past the deadline with
/// ``ReliableQueue/extendLease(_:by:)``. If the lease runs out first, the sweeper gives the
/// task to another consumer and this delivery's lease token goes stale.
public struct Delivery: Sendable, Hashable {
    /// The task's id.
    public let id: String
    /// The payload bytes, exactly as enqueued.
    public let payload: [UInt8]
    /// Which delivery of the task this is: 1 for the first.
    public let attempt: Int
    /// The lease: its token fences release, requeue and extend.
    public let lease: Lease
    /// When the task was enqueued (server clock).
    public let enqueuedAt: ServerTime
    /// When this delivery was made (server clock).
    public let deliveredAt: ServerTime

    /// Creates a delivery (normally made by ``ReliableQueue/dequeue(max:wait:)``).
    /// - Parameters:
    ///   - id: the task id.
    ///   - payload: the payload bytes.
    ///   - attempt: the delivery number, from 1.
    ///   - lease: the lease token and deadline.
    ///   - enqueuedAt: when the task was enqueued.
    ///   - deliveredAt: when it was delivered.
    public init(id: String, payload: [UInt8], attempt: Int, lease: Lease, enqueuedAt: ServerTime, deliveredAt: ServerTime) {
        self.id = id
        self.payload = payload
        self.attempt = attempt
        self.lease = lease
        self.enqueuedAt = enqueuedAt
        self.deliveredAt = deliveredAt
    }

    /// How long the task waited between enqueue and this delivery.
    public var waitTime: Duration { deliveredAt.duration(since: enqueuedAt) }

    /// The payload decoded as UTF-8 text (invalid bytes replaced).
    public var payloadText: String { String(decoding: payload, as: UTF8.self) }

    /// Decodes a JSON payload (as enqueued by ``ReliableQueue/enqueue(json:id:delay:)``).
    /// - Parameters:
    ///   - type: the type to decode.
    ///   - decoder: the JSON decoder to use.
    public func decode<T: Decodable>(_ type: T.Type, using decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(type, from: Data(payload))
    }
}

/// A consumer's hold on a task: a lease token and the deadline of the lease. The pair (task id,
/// token) is unique per delivery.
public struct Lease: Sendable, Hashable {
    /// The lease token. Positive: unique to this delivery within the queue. Negative: the token of
    /// a lease group, shared by the tasks one `dequeue(max:)` call leased together
    /// (``ReliableQueue/Configuration/leaseGroups``); with the task id it still names exactly
    /// this delivery.
    public let token: Int64
    /// When the lease runs out (server clock), unless extended.
    public let deadline: ServerTime
    /// For a task leased in a lease group's shared entry: how many tasks that entry held when the
    /// dequeue call made it. A release naming exactly that many distinct deliveries of the group
    /// releases the group by its token (the script's whole-group form). 0 otherwise.
    let groupSize: Int

    /// Creates a lease.
    /// - Parameters:
    ///   - token: the lease token.
    ///   - deadline: when the lease runs out.
    public init(token: Int64, deadline: ServerTime) {
        self.init(token: token, deadline: deadline, groupSize: 0)
    }

    init(token: Int64, deadline: ServerTime, groupSize: Int) {
        self.token = token
        self.deadline = deadline
        self.groupSize = groupSize
    }

    /// Leases are equal when their token and deadline are (the group size is bookkeeping).
    public static func == (lhs: Lease, rhs: Lease) -> Bool {
        lhs.token == rhs.token && lhs.deadline == rhs.deadline
    }

    /// Hashes the token and the deadline.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(token)
        hasher.combine(deadline)
    }
}
