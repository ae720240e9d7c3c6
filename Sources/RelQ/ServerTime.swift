/// A point in time on the Redis server's clock (`TIME`), in milliseconds since 1970.
///
/// RelQ never uses client clocks for queue state: deadlines, due times and ages all come from
/// the server, so consumers with skewed clocks change nothing.
public struct ServerTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01 00:00 UTC on the server's clock.
    public let millisecondsSince1970: Int64

    /// Creates a server time from milliseconds since 1970.
    /// - Parameter millisecondsSince1970: milliseconds since 1970-01-01 UTC.
    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    /// The duration from `other` to `self`.
    /// - Parameter other: the earlier time.
    public func duration(since other: ServerTime) -> Duration {
        .milliseconds(millisecondsSince1970 - other.millisecondsSince1970)
    }

    /// Orders by time.
    public static func < (lhs: ServerTime, rhs: ServerTime) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    /// Milliseconds since 1970, e.g. `1763900000123ms`.
    public var description: String { "\(millisecondsSince1970)ms" }
}
