#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Foundation
import Synchronization

/// A child process started with `posix_spawn` and reaped with `waitpid(pid, WNOHANG)` polls.
///
/// Tests use it instead of Foundation's `Process`: waiting never blocks a thread of the
/// (narrow) Swift concurrency pool, and reaping never depends on a process-wide SIGCHLD
/// handler, so many children at once neither starve nor hang the test process.
public final class Subprocess: Sendable {
    /// How a process ended.
    public struct Termination: Sendable, Hashable {
        /// The exit code, or 128 + the signal number when a signal killed it (as a shell reports it).
        public let code: Int32
        /// The signal that killed it, if one did.
        public let signal: Int32?
    }

    /// What ``run(_:arguments:environment:stdin:timeout:)`` collected.
    public struct Output: Sendable {
        /// The exit code (128 + signal when killed).
        public let status: Int32
        /// Standard output.
        public let stdout: Data
        /// Standard error.
        public let stderr: Data
        /// Standard output as UTF-8 text.
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// Standard error as UTF-8 text.
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// The child's process id.
    public let pid: pid_t
    private let termination = Mutex<Termination?>(nil)

    private init(pid: pid_t) {
        self.pid = pid
    }

    deinit {
        if termination.withLock({ $0 == nil }) {
            ChildProcess.killAndReap(pid)
        }
    }

    /// Starts `executable` (a path, or a name searched on `PATH`).
    /// - Parameters:
    ///   - executable: the program.
    ///   - arguments: its arguments (without argv[0]).
    ///   - environment: the whole environment; nil inherits this process's.
    ///   - stdinPath: a file for standard input; nil for `/dev/null`.
    ///   - stdoutPath: where standard output is appended; nil for `/dev/null`.
    ///   - stderrPath: where standard error is appended; nil to share standard output's file.
    public static func launch(
        _ executable: String, arguments: [String], environment: [String: String]? = nil,
        stdinPath: String? = nil, stdoutPath: String? = nil, stderrPath: String? = nil
    ) throws -> Subprocess {
        guard let path = ChildProcess.resolveExecutable(executable) else {
            throw RelQTestingError(.executableNotFound, "\(executable) not found (as a path or on PATH)")
        }
        var input = ChildProcess.Input.devNull
        var inputFD: Int32 = -1
        if let stdinPath {
            inputFD = open(stdinPath, O_RDONLY)
            guard inputFD >= 0 else { throw RelQTestingError(.systemCallFailed, "cannot open \(stdinPath)") }
            input = .fileDescriptor(inputFD)
        }
        defer { if inputFD >= 0 { close(inputFD) } }
        let pid = try ChildProcess.spawn(
            path: path, arguments: [path] + arguments, input: input, outputPath: stdoutPath, errorPath: stderrPath,
            environment: environment)
        return Subprocess(pid: pid)
    }

    /// How it ended, or nil while it runs (reaps it once it has exited; never blocks).
    public var exitStatus: Termination? {
        termination.withLock { termination in
            if let termination { return termination }
            guard let status = ChildProcess.reapIfExited(pid) else { return nil }
            let signal = status & 0x7f
            let ended = signal == 0
                ? Termination(code: (status >> 8) & 0xff, signal: nil)
                : Termination(code: 128 + signal, signal: signal)
            termination = ended
            return ended
        }
    }

    /// Whether the process still runs.
    public var isRunning: Bool { exitStatus == nil }

    /// Sends a signal (SIGKILL for a crash, SIGTERM for a graceful stop) if it still runs.
    /// - Parameter signal: the signal number.
    public func send(_ signal: Int32) {
        if isRunning { _ = kill(pid, signal) }
    }

    /// Waits (polling every 5 ms, without blocking a thread) until it exits or `timeout` passes.
    /// - Parameter timeout: the longest wait.
    /// - Returns: how it ended, or nil when it still runs.
    @discardableResult
    public func waitForExit(timeout: Duration) async -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = exitStatus { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Runs a program to completion and collects its output; kills it after `timeout`.
    /// - Parameters:
    ///   - executable: the program (path or name on `PATH`).
    ///   - arguments: its arguments.
    ///   - environment: the whole environment; nil inherits this process's.
    ///   - stdin: bytes for standard input; nil for `/dev/null`.
    ///   - timeout: the longest run.
    public static func run(
        _ executable: String, arguments: [String], environment: [String: String]? = nil, stdin: Data? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relq-subprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("stdout").path
        let errPath = directory.appendingPathComponent("stderr").path
        var inPath: String?
        if let stdin {
            inPath = directory.appendingPathComponent("stdin").path
            try stdin.write(to: URL(fileURLWithPath: inPath!))
        }
        let process = try launch(executable, arguments: arguments, environment: environment, stdinPath: inPath, stdoutPath: outPath, stderrPath: errPath)
        guard let ended = await process.waitForExit(timeout: timeout) else {
            process.send(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(5))
            throw RelQTestingError(.timeout, "\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        return Output(
            status: ended.code,
            stdout: (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data(),
            stderr: (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data())
    }
}
