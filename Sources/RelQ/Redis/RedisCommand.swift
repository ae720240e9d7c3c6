/// One Redis command, encoded once as RESP bytes by the caller.
///
/// Commands are always sent as an argument vector, so user data can never become a
/// command. The encoding happens on the caller's thread; the I/O thread only copies
/// bytes into the socket buffer.
public struct RedisCommand: Sendable {
    /// The command as RESP bytes: `*<n>\r\n$<len>\r\n<arg>\r\n…`.
    var encoded: [UInt8]

    /// The key the command targets, for routing (a Redis Cluster router needs it); `nil` for keyless commands.
    public var routingKey: String?

    /// The command's name, upper-cased, for logs and errors.
    public let name: String

    /// For a blocking command (`BLPOP` …): how long the server may hold it; the read timeout is
    /// extended by this much for the command.
    var blockingTimeout: Duration?

    /// How many replies the command produces: 1, or the size of a ``pipeline(_:)`` group, whose
    /// replies come back as one ``RedisReply/array(_:)``.
    var replyCount = 1

    /// Several commands sent back to back in one write and answered together, in order, as one
    /// array reply. Redis runs a client's commands in order, so a command after a blocking one runs
    /// as soon as the blocking one returns — without another round trip. Not a transaction: other
    /// clients' commands may run in between.
    /// - Parameter commands: one or more commands.
    public static func pipeline(_ commands: [RedisCommand]) -> RedisCommand {
        precondition(!commands.isEmpty, "RedisCommand.pipeline needs at least one command")
        var combined = commands[0]
        combined.replyCount = 0
        combined.encoded = []
        for command in commands {
            combined.encoded += command.encoded
            combined.replyCount += command.replyCount
        }
        return combined
    }

    /// Creates a command from text arguments; the first is the command name.
    /// - Parameters:
    ///   - arguments: the command name and its arguments, e.g. `["SET", "k", "v"]`.
    ///   - routingKey: the key the command targets, if any.
    public init(_ arguments: [String], routingKey: String? = nil) {
        // One allocation: each argument takes `$<len>\r\n<arg>\r\n`, at most 16 bytes around it.
        var capacity = 16
        for argument in arguments { capacity += argument.utf8.count + 16 }
        var writer = RESPWriter(argumentCount: arguments.count, capacity: capacity)
        for argument in arguments { writer.append(argument) }
        self.init(writer: writer, name: (arguments.first ?? "").uppercased(), routingKey: routingKey)
    }

    /// Creates a command from binary arguments; the first is the command name.
    /// - Parameters:
    ///   - arguments: the command name and its arguments as bytes.
    ///   - routingKey: the key the command targets, if any.
    public init(bytes arguments: [[UInt8]], routingKey: String? = nil) {
        var capacity = 16
        for argument in arguments { capacity += argument.count + 16 }
        var writer = RESPWriter(argumentCount: arguments.count, capacity: capacity)
        for argument in arguments { writer.append(argument) }
        self.init(writer: writer, name: arguments.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "", routingKey: routingKey)
    }

    /// - Parameter name: the command's name, already upper-cased.
    init(writer: RESPWriter, name: String, routingKey: String?) {
        self.encoded = writer.bytes
        self.name = name
        self.routingKey = routingKey
    }
}

/// Builds the RESP encoding of an argument vector.
struct RESPWriter: Sendable {
    private(set) var bytes: [UInt8]

    /// Starts a command of `argumentCount` arguments.
    init(argumentCount: Int, capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(argumentCount)
        appendCRLF()
    }

    /// Starts a command whose header and first arguments are already encoded (`prefix`),
    /// with `argumentCount` arguments in all.
    init(argumentCount: Int, encodedPrefix prefix: [UInt8], capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity + prefix.count + 16)
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(argumentCount)
        appendCRLF()
        bytes.append(contentsOf: prefix)
    }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func append(_ value: [UInt8]) {
        value.withUnsafeBytes { append($0) }
    }

    mutating func append(_ value: Int) {
        var length = value < 0 ? 2 : 1
        var rest = value.magnitude / 10
        while rest > 0 {
            length += 1
            rest /= 10
        }
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(length)
        appendCRLF()
        appendDecimal(value)
        appendCRLF()
    }

    mutating func append(_ buffer: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(buffer.count)
        appendCRLF()
        bytes.append(contentsOf: buffer)
        appendCRLF()
    }

    private mutating func appendCRLF() {
        bytes.append(13)
        bytes.append(10)
    }

    private mutating func appendDecimal(_ value: Int) {
        Self.decimal(value, into: &bytes)
    }

    static func decimal(_ value: Int, into out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let start = out.count
        while magnitude > 0 {
            out.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        out[start...].reverse()
    }

    /// Encodes one argument on its own (for cached prefixes).
    static func encodeArgument(_ text: String) -> [UInt8] {
        var writer = RESPWriter(argumentCount: 0)
        writer.bytes.removeAll(keepingCapacity: true)
        writer.append(text)
        return writer.bytes
    }
}
