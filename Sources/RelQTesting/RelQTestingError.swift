/// An error thrown by the RelQTesting helpers (``RedisServer``, ``RawRedis``, ``FaultProxy``).
///
/// Match on ``code``; ``message`` is for humans and may change.
public struct RelQTestingError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. An open set: new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case timeout
            case connectionFailed
            case connectionClosed
            case protocolError
            case executableNotFound
            case serverStartFailed
            case invalidArgument
            case invalidState
            case systemCallFailed
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The operation did not finish before its deadline (for example a blackholed connection).
        public static var timeout: Code { Code(.timeout) }
        /// A TCP connection could not be established (refused, unreachable, bad address).
        public static var connectionFailed: Code { Code(.connectionFailed) }
        /// The peer closed or reset the connection before a complete reply arrived.
        public static var connectionClosed: Code { Code(.connectionClosed) }
        /// The bytes received are not valid RESP.
        public static var protocolError: Code { Code(.protocolError) }
        /// The `redis-server` executable was not found or is not executable.
        public static var executableNotFound: Code { Code(.executableNotFound) }
        /// `redis-server` exited early or did not answer `PING` in time; the message holds the log tail.
        public static var serverStartFailed: Code { Code(.serverStartFailed) }
        /// An argument was out of range (for example an unknown `appendfsync` policy).
        public static var invalidArgument: Code { Code(.invalidArgument) }
        /// The operation is not allowed in the current state (for example `restart()` after `stop()`).
        public static var invalidState: Code { Code(.invalidState) }
        /// A POSIX call failed; the message names the call and `errno`.
        public static var systemCallFailed: Code { Code(.systemCallFailed) }

        /// The code's name, for example `timeout`.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: A human-readable explanation.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `RelQTestingError.<code>: <message>`.
    public var description: String { "RelQTestingError.\(code): \(message)" }
}
