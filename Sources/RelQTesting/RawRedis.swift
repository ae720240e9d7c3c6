#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-shot RESP2 client over a POSIX socket, independent of the library under test.
///
/// Each call opens a connection, optionally sends `AUTH`, sends one command, reads its reply
/// and closes. Use it for `PING`, `SHUTDOWN`, `CLIENT KILL`, `SCRIPT FLUSH`, `DEBUG SLEEP`,
/// `INFO`, `ZCARD` … in tests. Server errors are returned as ``RawRedisReply/error(_:)``;
/// transport failures are thrown as ``RelQTestingError``.
public enum RawRedis: Sendable {
    /// Sends one command and returns its reply.
    /// - Parameters:
    ///   - host: An IPv4 address or `localhost`.
    ///   - port: The TCP port.
    ///   - password: If set, `AUTH <password>` is sent first; if it fails, its error reply is returned.
    ///   - args: The command and its arguments, sent as a binary-safe argv (UTF-8).
    ///   - timeout: The deadline for connect, send and receive together.
    /// - Returns: The command's reply.
    /// - Throws: ``RelQTestingError`` with code `connectionFailed`, `connectionClosed`, `timeout`,
    ///   `protocolError` or `invalidArgument`.
    public static func command(
        host: String = "127.0.0.1",
        port: Int,
        password: String? = nil,
        args: [String],
        timeout: Duration = .seconds(2)
    ) throws -> RawRedisReply {
        try command(host: host, port: port, password: password, binaryArgs: args.map { Array($0.utf8) }, timeout: timeout)
    }

    /// Sends one command whose arguments are raw bytes and returns its reply.
    /// - Parameters:
    ///   - host: An IPv4 address or `localhost`.
    ///   - port: The TCP port.
    ///   - password: If set, `AUTH <password>` is sent first; if it fails, its error reply is returned.
    ///   - binaryArgs: The command and its arguments as bytes.
    ///   - timeout: The deadline for connect, send and receive together.
    /// - Returns: The command's reply.
    /// - Throws: ``RelQTestingError``.
    public static func command(
        host: String = "127.0.0.1",
        port: Int,
        password: String? = nil,
        binaryArgs: [[UInt8]],
        timeout: Duration = .seconds(2)
    ) throws -> RawRedisReply {
        guard !binaryArgs.isEmpty else {
            throw RelQTestingError(.invalidArgument, "empty command")
        }
        let deadline = Posix.deadline(after: timeout)
        let name = String(decoding: binaryArgs[0], as: UTF8.self)
        let what = "\(name) to \(host):\(port)"
        let fd = try Posix.connect(host: host, port: port, deadline: deadline)
        defer { Posix.close(fd) }

        var request: [UInt8] = []
        if let password {
            request += encode([Array("AUTH".utf8), Array(password.utf8)])
        }
        request += encode(binaryArgs)
        try Posix.sendAll(fd, request, deadline: deadline, what: what)

        var buffer: [UInt8] = []
        var index = 0
        var replies: [RawRedisReply] = []
        let expected = password == nil ? 1 : 2
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while replies.count < expected {
            if let reply = try RESPParser.parse(buffer, &index) {
                replies.append(reply)
                continue
            }
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                buffer += chunk[0..<received]
            } else if received == 0 {
                throw RelQTestingError(.connectionClosed, "\(what): connection closed by peer after \(buffer.count) reply bytes")
            } else {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR {
                    try Posix.wait(fd, events: Int16(POLLIN), deadline: deadline, what: what)
                } else {
                    throw RelQTestingError(.connectionClosed, "\(what): recv failed: \(Posix.errnoDescription(code))")
                }
            }
        }
        if expected == 2, replies[0].isError {
            return replies[0]
        }
        return replies[replies.count - 1]
    }

    /// Encodes an argv as a RESP array of bulk strings (`*n\r\n$len\r\n…\r\n`).
    /// - Parameter args: The command and its arguments as bytes.
    /// - Returns: The wire bytes.
    public static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var bytes = Array("*\(args.count)\r\n".utf8)
        for argument in args {
            bytes += Array("$\(argument.count)\r\n".utf8)
            bytes += argument
            bytes += [13, 10]
        }
        return bytes
    }
}
