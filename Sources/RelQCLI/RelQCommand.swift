import ArgumentParser
import Foundation
import RelQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `relq`: administer RelQ queues from the shell.
@main
struct RelQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relq",
        abstract: "Administer RelQ reliable task queues on Redis.",
        discussion: """
            Connects to $REDIS_URL (default \(defaultRedisURL)) unless --url is given.

            EXIT CODES
              0  success
              1  runtime failure (Redis unreachable, command failed, aborted)
              2  usage or validation error
              3  not found (missing queue, task or dead letter)

            EXAMPLES
              relq stats
              relq enqueue emails '{"to":"a@example.com"}'
              relq sweep --all
              relq demo
            """,
        subcommands: [
            SweepCommand.self, StatsCommand.self, DeadCommand.self, EnqueueCommand.self, PeekCommand.self,
            PauseCommand.self, ResumeCommand.self, DeleteQueueCommand.self, DemoCommand.self,
            BenchCommand.self, ConsumeCommand.self,
        ]
    )

    /// Parses, runs, and maps every error to a one-line message and an exit code
    /// (0 ok, 1 runtime failure, 2 usage, 3 not found).
    static func main() async {
        let code: Int32
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            code = 0
        } catch {
            code = report(error)
        }
        terminateProcess(code)
    }

    /// Prints the message for `error` and returns the exit code.
    static func report(_ error: any Error) -> Int32 {
        switch error {
        case let error as CLIError:
            Terminal.writeError("relq: \(error.message)\n")
            return error.exitCode
        case let error as ReliableQueueError:
            Terminal.writeError("relq: \(message(for: error))\n")
            switch error.code {
            case .invalidArgument: return 2
            case .taskNotFound: return 3
            default: return 1
            }
        case is CancellationError:
            Terminal.writeError("relq: interrupted\n")
            return 1
        default:
            let exitCode = exitCode(for: error)
            if exitCode == .success {
                // --help, --version: printed to stdout by ArgumentParser's formatter.
                let text = fullMessage(for: error)
                if !text.isEmpty { print(text) }
                return 0
            }
            if exitCode == .validationFailure {
                Terminal.writeError(oneLineUsageMessage(fullMessage(for: error)) + "\n")
                return 2
            }
            if let exit = error as? ExitCode { return exit.rawValue }
            let text = fullMessage(for: error)
            Terminal.writeError("relq: \(text.isEmpty ? String(describing: error) : text)\n")
            return exitCode.rawValue == 0 ? 1 : exitCode.rawValue
        }
    }

    /// ArgumentParser's multi-line usage error as one line: `relq: <error> (see 'relq x --help')`.
    static func oneLineUsageMessage(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var first = lines.first ?? "invalid usage"
        if first.hasPrefix("Error: ") { first = String(first.dropFirst("Error: ".count)) }
        if let hint = lines.first(where: { $0.hasPrefix("See '") }), let start = hint.firstIndex(of: "'"), let end = hint.lastIndex(of: "'"), start < end {
            return "relq: \(first) (see \(hint[start...end]))"
        }
        return "relq: \(first)"
    }

    static func message(for error: ReliableQueueError) -> String {
        switch error.code {
        case .connectionFailed:
            return error.message.hasPrefix("could not connect") ? error.message : "could not connect to Redis: \(error.message)"
        case .connectionLost:
            return "lost the connection to Redis: \(error.message)"
        case .timeout:
            return "Redis did not answer in time: \(error.message)"
        case .authenticationFailed:
            return "authentication failed: \(error.message)"
        default:
            return error.message
        }
    }
}

/// Flushes stdio and exits with `code`.
func terminateProcess(_ code: Int32) -> Never {
    fflush(nil)
    #if canImport(Glibc)
    Glibc.exit(code)
    #else
    Darwin.exit(code)
    #endif
}
