/// A reply from Redis, copied out of hiredis into Swift values.
///
/// RESP2 only (hiredis 0.14 has no RESP3). Bulk strings are kept as bytes: payloads
/// are binary-safe, including zero bytes and invalid UTF-8.
public enum RedisReply: Sendable, Hashable {
    /// A simple string such as `OK` or `PONG`.
    case status(String)
    /// An error reply such as `ERR unknown command` or `NOSCRIPT No matching script`.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string, as raw bytes.
    case bulk([UInt8])
    /// An array reply.
    case array([RedisReply])
    /// The null bulk string or null array.
    case null

    /// The reply as an integer: integers, and bulk strings or statuses holding decimal digits.
    public var int: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulk(let bytes): return Int64(String(decoding: bytes, as: UTF8.self))
        case .status(let text): return Int64(text)
        default: return nil
        }
    }

    /// The reply as text: bulk strings (decoded as UTF-8, invalid bytes replaced), statuses and integers.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    /// The bytes of a bulk string or status.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): return bytes
        case .status(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// The elements of an array reply.
    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is the null reply.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
