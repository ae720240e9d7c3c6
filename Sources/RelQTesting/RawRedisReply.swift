/// A RESP2 reply decoded by ``RawRedis``.
public enum RawRedisReply: Sendable, Hashable, CustomStringConvertible {
    /// A simple string (`+OK`).
    case simple(String)
    /// An error reply (`-ERR …`), without the leading `-`.
    case error(String)
    /// An integer reply (`:42`).
    case integer(Int)
    /// A bulk string (`$3\r\nfoo`); `nil` for the null bulk string (`$-1`).
    case bulk([UInt8]?)
    /// An array (`*2 …`); `nil` for the null array (`*-1`).
    case array([RawRedisReply]?)

    /// The text of a simple string, or a bulk string decoded as UTF-8; `nil` for other replies and null.
    public var string: String? {
        switch self {
        case .simple(let text): text
        case .bulk(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The value of an integer reply; `nil` for other replies.
    public var int: Int? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The elements of a non-null array; `nil` for other replies.
    public var array: [RawRedisReply]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The raw bytes of a non-null bulk string; `nil` for other replies.
    public var bytes: [UInt8]? {
        if case .bulk(let bytes?) = self { return bytes }
        return nil
    }

    /// The message of an error reply (for example `LOADING Redis is loading…`); `nil` otherwise.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }

    /// `true` for an error reply.
    public var isError: Bool { errorMessage != nil }

    /// `true` for the null bulk string or the null array.
    public var isNull: Bool {
        switch self {
        case .bulk(nil), .array(nil): true
        default: false
        }
    }

    /// A redis-cli-like rendering, for test failure messages.
    public var description: String {
        switch self {
        case .simple(let text): return text
        case .error(let message): return "(error) \(message)"
        case .integer(let value): return "(integer) \(value)"
        case .bulk(nil), .array(nil): return "(nil)"
        case .bulk(let bytes?): return "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .array(let elements?): return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
