/// The one error type of RelQ: connection faults, Redis error replies, queue outcomes and bad input.
///
/// Compare errors by ``code``:
/// ```swift
/// do { try await queue.release(delivery) }
/// catch let error as ReliableQueueError where error.code == .staleLease { … }
/// ```
public struct ReliableQueueError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, as an extensible set of codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Value: Sendable, Hashable {
            case invalidArgument
            case connectionFailed
            case connectionLost
            case timeout
            case serverError
            case authenticationFailed
            case scriptFailed
            case staleLease
            case taskNotFound
            case shutdown
            case protocolError
        }

        let value: Value

        /// Input rejected before anything was sent to Redis.
        public static var invalidArgument: Code { Code(value: .invalidArgument) }
        /// Redis could not be reached (refused, unreachable, or the connect timeout passed). Nothing was sent.
        public static var connectionFailed: Code { Code(value: .connectionFailed) }
        /// The connection broke while the command was in flight: **its outcome is unknown**.
        public static var connectionLost: Code { Code(value: .connectionLost) }
        /// No reply within the command timeout: **its outcome is unknown** (Redis may still run it).
        public static var timeout: Code { Code(value: .timeout) }
        /// Redis answered with an error reply; ``ReliableQueueError/message`` carries Redis's text.
        public static var serverError: Code { Code(value: .serverError) }
        /// `AUTH` was refused (wrong user or password). The password is never part of the message.
        public static var authenticationFailed: Code { Code(value: .authenticationFailed) }
        /// A queue script returned something this library does not understand.
        public static var scriptFailed: Code { Code(value: .scriptFailed) }
        /// The lease token no longer holds the task (the lease expired and the task moved on); nothing changed.
        public static var staleLease: Code { Code(value: .staleLease) }
        /// No such task: already released, removed, or never there; nothing changed.
        public static var taskNotFound: Code { Code(value: .taskNotFound) }
        /// The client was shut down.
        public static var shutdown: Code { Code(value: .shutdown) }
        /// Redis sent something that is not valid RESP.
        public static var protocolError: Code { Code(value: .protocolError) }

        /// The code's name.
        public var description: String {
            switch value {
            case .invalidArgument: return "invalidArgument"
            case .connectionFailed: return "connectionFailed"
            case .connectionLost: return "connectionLost"
            case .timeout: return "timeout"
            case .serverError: return "serverError"
            case .authenticationFailed: return "authenticationFailed"
            case .scriptFailed: return "scriptFailed"
            case .staleLease: return "staleLease"
            case .taskNotFound: return "taskNotFound"
            case .shutdown: return "shutdown"
            case .protocolError: return "protocolError"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// A sentence for people (and for logs): what happened and, where it helps, what to do.
    public let message: String
    /// The source file that raised the error.
    public let file: String
    /// The source line that raised the error.
    public let line: Int

    /// Creates an error.
    /// - Parameters:
    ///   - code: what went wrong.
    ///   - message: a sentence for people.
    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// Whether the command may or may not have run on the server (a timeout or a broken connection).
    /// Retry only what is safe to retry: an enqueue with a caller-chosen id, a release, an extend.
    public var isOutcomeUnknown: Bool {
        code == .timeout || code == .connectionLost
    }

    /// For a ``Code/serverError``, the first word of Redis's reply (`ERR`, `WRONGTYPE`, `NOPERM`, …).
    public var redisErrorPrefix: String? {
        guard code == .serverError else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }

    /// Errors are equal when their codes and messages are.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }
}
