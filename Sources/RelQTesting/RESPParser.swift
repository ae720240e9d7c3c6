/// An incremental RESP2 parser over a byte buffer.
enum RESPParser {
    /// Parses one reply starting at `index`. Returns `nil` (leaving `index` unchanged) if the
    /// buffer does not yet hold a complete reply; advances `index` past it otherwise.
    static func parse(_ buffer: [UInt8], _ index: inout Int) throws -> RawRedisReply? {
        var cursor = index
        guard let reply = try parseAt(buffer, &cursor) else { return nil }
        index = cursor
        return reply
    }

    private static func line(_ buffer: [UInt8], _ cursor: inout Int) -> [UInt8]? {
        var position = cursor
        while position + 1 < buffer.count {
            if buffer[position] == 13 && buffer[position + 1] == 10 {
                let text = Array(buffer[cursor..<position])
                cursor = position + 2
                return text
            }
            position += 1
        }
        return nil
    }

    private static func integer(_ bytes: [UInt8]) throws -> Int {
        guard let value = Int(String(decoding: bytes, as: UTF8.self)) else {
            throw RelQTestingError(.protocolError, "invalid RESP integer '\(String(decoding: bytes, as: UTF8.self))'")
        }
        return value
    }

    private static func parseAt(_ buffer: [UInt8], _ cursor: inout Int) throws -> RawRedisReply? {
        guard cursor < buffer.count else { return nil }
        let type = buffer[cursor]
        var position = cursor + 1
        guard let header = line(buffer, &position) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            cursor = position
            return .simple(String(decoding: header, as: UTF8.self))
        case UInt8(ascii: "-"):
            cursor = position
            return .error(String(decoding: header, as: UTF8.self))
        case UInt8(ascii: ":"):
            cursor = position
            return .integer(try integer(header))
        case UInt8(ascii: "$"):
            let length = try integer(header)
            if length < 0 {
                cursor = position
                return .bulk(nil)
            }
            guard buffer.count >= position + length + 2 else { return nil }
            guard buffer[position + length] == 13, buffer[position + length + 1] == 10 else {
                throw RelQTestingError(.protocolError, "bulk string not terminated by CRLF")
            }
            let bytes = Array(buffer[position..<(position + length)])
            cursor = position + length + 2
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            let count = try integer(header)
            if count < 0 {
                cursor = position
                return .array(nil)
            }
            var elements: [RawRedisReply] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                guard let element = try parseAt(buffer, &position) else { return nil }
                elements.append(element)
            }
            cursor = position
            return .array(elements)
        default:
            throw RelQTestingError(.protocolError, "unexpected RESP type byte \(type)")
        }
    }
}
