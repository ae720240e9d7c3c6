#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A private, throwaway `redis-server` child process on `127.0.0.1`, for tests and demos.
///
/// Each server gets a free port and a fresh temporary directory. ``stop()`` (also run by
/// `deinit`) always ends the process and removes the directory (unless the environment variable
/// `RELQ_KEEP_REDIS_DIR` is set). A watchdog helper kills the server if the test process
/// itself dies, so no `redis-server` is left behind.
///
/// ```swift
/// try await RedisServer.withServer(.init(appendOnly: true)) { server in
///     _ = try RawRedis.command(port: server.port, args: ["SET", "k", "v"])
///     server.kill()                 // crash
///     try await server.restart()    // same port and dir, AOF reloaded
/// }
/// ```
public final class RedisServer: Sendable {
    private struct State {
        var pid: pid_t?
        var watchdog: Watchdog?
        var frozen = false
        var stopped = false
    }

    /// The host the server listens on: always `127.0.0.1`.
    public let host = "127.0.0.1"
    /// The TCP port the server listens on (kept across ``restart()``).
    public let port: Int
    /// The server's private working directory (`--dir`), holding `redis.log` and the AOF.
    public let directory: String
    /// The options the server was started with.
    public let options: Options
    private let executable: String
    private let state: Mutex<State>

    private init(port: Int, directory: String, options: Options, executable: String) {
        self.port = port
        self.directory = directory
        self.options = options
        self.executable = executable
        self.state = Mutex(State())
    }

    deinit {
        stop()
    }

    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT` (password percent-encoded) if one is set.
    public var url: String {
        if let password = options.password {
            let encoded = password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password
            return "redis://:\(encoded)@\(host):\(port)"
        }
        return "redis://\(host):\(port)"
    }

    /// The server's process id, or `nil` while it is not running (after ``kill()``, ``shutdown()`` or ``stop()``).
    public var pid: Int32? {
        state.withLock { $0.pid }
    }

    /// `true` between ``freeze()`` and ``thaw()``.
    public var isFrozen: Bool {
        state.withLock { $0.frozen }
    }

    /// The path of the server log, `<directory>/redis.log`.
    public var logPath: String { "\(directory)/redis.log" }

    // MARK: Starting

    /// Starts a server and waits until it answers `PING` with `PONG` (waiting through `LOADING`).
    ///
    /// The port is found by binding port 0; if the server then fails because another process took
    /// the port, it is retried with a new one (up to 5 times).
    /// - Parameter options: The server configuration.
    /// - Returns: The running server. Call ``stop()`` when done (or use ``withServer(_:isolation:_:)``).
    /// - Throws: ``RelQTestingError`` with code `executableNotFound`, `invalidArgument`,
    ///   `serverStartFailed` (the message holds the tail of `redis.log`) or `systemCallFailed`.
    public static func start(_ options: Options = Options()) async throws -> RedisServer {
        guard ["always", "everysec", "no"].contains(options.appendFsync) else {
            throw RelQTestingError(.invalidArgument, "appendFsync must be always, everysec or no, not '\(options.appendFsync)'")
        }
        let executable = try resolveExecutable(options)
        let directory = try makeTemporaryDirectory()
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port: Int
            do {
                port = try Posix.freePort()
            } catch {
                removeDirectory(directory)
                throw error
            }
            let server = RedisServer(port: port, directory: directory, options: options, executable: executable)
            do {
                try await server.launchAndWait()
                return server
            } catch let error as PortInUse {
                lastError = error.underlying
                server.discardWithoutRemovingDirectory()
                try? FileManager.default.removeItem(atPath: server.logPath)
                continue
            } catch {
                server.stop()
                throw error
            }
        }
        removeDirectory(directory)
        throw lastError ?? RelQTestingError(.serverStartFailed, "no free port found")
    }

    /// Starts a server, runs `body`, and always stops the server afterwards (also when `body` throws).
    /// - Parameters:
    ///   - options: The server configuration.
    ///   - isolation: The caller's actor isolation (inherited automatically).
    ///   - body: The code using the server.
    /// - Returns: What `body` returns.
    /// - Throws: What ``start(_:)`` or `body` throws.
    public static func withServer<T>(
        _ options: Options = Options(),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisServer) async throws -> T
    ) async throws -> T {
        let server = try await start(options)
        do {
            let result = try await body(server)
            server.stop()
            return result
        } catch {
            server.stop()
            throw error
        }
    }

    // MARK: Lifecycle

    /// Starts the server again on the same port and directory after ``kill()`` or ``shutdown()``, and
    /// waits for `PONG` (also while the AOF loads). If the server is running it is shut down first.
    /// - Throws: ``RelQTestingError`` with code `invalidState` after ``stop()``, `serverStartFailed`
    ///   if it does not come up (for example the port was taken meanwhile).
    public func restart() async throws {
        if state.withLock({ $0.stopped }) {
            throw RelQTestingError(.invalidState, "restart() after stop(): the server directory is gone")
        }
        shutdown()
        do {
            try await launchAndWait()
        } catch let error as PortInUse {
            throw error.underlying
        }
    }

    /// Stops the server for good: `SHUTDOWN NOSAVE`, else SIGTERM, else SIGKILL; waits for the exit and
    /// removes ``directory`` (unless `RELQ_KEEP_REDIS_DIR` is set). Idempotent; also run by `deinit`.
    public func stop() {
        let alreadyStopped = state.withLock { state in
            let was = state.stopped
            state.stopped = true
            return was
        }
        if alreadyStopped { return }
        shutdown()
        if ProcessInfo.processInfo.environment["RELQ_KEEP_REDIS_DIR"] == nil {
            Self.removeDirectory(directory)
        }
    }

    /// Shuts the server down cleanly (`SHUTDOWN NOSAVE`, which still flushes the AOF), keeping the
    /// directory so that ``restart()`` can follow. Falls back to SIGTERM, then SIGKILL. No-op if not running.
    public func shutdown() {
        guard let (pid, watchdog, frozen) = takeProcess() else { return }
        defer { watchdog?.dismiss() }
        if frozen {
            ChildProcess.killAndReap(pid)
            return
        }
        _ = try? RawRedis.command(
            host: host, port: port, password: options.password, args: ["SHUTDOWN", "NOSAVE"], timeout: .seconds(2))
        if ChildProcess.waitForExit(pid, timeout: .seconds(5)) { return }
        Posix.signal(pid, SIGTERM)
        if ChildProcess.waitForExit(pid, timeout: .seconds(5)) { return }
        ChildProcess.killAndReap(pid)
    }

    /// Kills the server with SIGKILL and waits for it to exit, simulating a crash. The directory is
    /// kept, so ``restart()`` reloads whatever the AOF holds. No-op if not running.
    public func kill() {
        guard let (pid, watchdog, _) = takeProcess() else { return }
        ChildProcess.killAndReap(pid)
        watchdog?.dismiss()
    }

    /// Suspends the server with SIGSTOP: connections stay open but nothing is answered.
    public func freeze() {
        state.withLock { state in
            guard let pid = state.pid else { return }
            Posix.signal(pid, SIGSTOP)
            state.frozen = true
        }
    }

    /// Resumes a server suspended by ``freeze()`` with SIGCONT.
    public func thaw() {
        state.withLock { state in
            guard let pid = state.pid else { return }
            Posix.signal(pid, SIGCONT)
            state.frozen = false
        }
    }

    /// Sends one command to the server with ``RawRedis`` (authenticating if a password is set).
    /// - Parameters:
    ///   - args: The command and its arguments.
    ///   - timeout: The deadline for the whole exchange.
    /// - Returns: The reply.
    /// - Throws: ``RelQTestingError`` on transport failures.
    @discardableResult
    public func command(_ args: String..., timeout: Duration = .seconds(2)) throws -> RawRedisReply {
        try RawRedis.command(host: host, port: port, password: options.password, args: args, timeout: timeout)
    }

    /// The last `lines` lines of `redis.log` (and of the captured stdout/stderr), for error messages.
    /// - Parameter lines: How many lines to return at most.
    /// - Returns: The log tail, possibly empty.
    public func logTail(lines: Int = 20) -> String {
        var text = ""
        for path in ["\(directory)/redis.log", "\(directory)/stdout.log"] {
            guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { continue }
            let all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            text += all.suffix(lines).joined(separator: "\n")
        }
        return text
    }

    // MARK: Internals

    /// Signals that startup failed because the port was taken.
    private struct PortInUse: Error {
        let underlying: RelQTestingError
    }

    private func takeProcess() -> (pid_t, Watchdog?, Bool)? {
        state.withLock { state in
            guard let pid = state.pid else { return nil }
            let result = (pid, state.watchdog, state.frozen)
            state.pid = nil
            state.watchdog = nil
            state.frozen = false
            return result
        }
    }

    private func discardWithoutRemovingDirectory() {
        kill()
        state.withLock { $0.stopped = true }
    }

    private var arguments: [String] {
        var arguments = [
            executable,
            "--port", String(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", options.appendOnly ? "yes" : "no",
            "--appendfsync", options.appendFsync,
            "--daemonize", "no",
            "--dir", directory,
            "--logfile", "\(directory)/redis.log",
            "--pidfile", "\(directory)/redis.pid",
        ]
        if options.enableDebugCommand {
            arguments += ["--enable-debug-command", "local"]
        }
        if let password = options.password {
            arguments += ["--requirepass", password]
        }
        return arguments + options.extraArguments
    }

    /// Spawns the process and waits for PONG. Throws `PortInUse` if the port was taken.
    private func launchAndWait() async throws {
        let pid = try ChildProcess.spawn(path: executable, arguments: arguments, outputPath: "\(directory)/stdout.log")
        let keep = ProcessInfo.processInfo.environment["RELQ_KEEP_REDIS_DIR"] != nil
        let watchdog = Watchdog.start(guarding: pid, removing: keep ? nil : directory)
        state.withLock { state in
            state.pid = pid
            state.watchdog = watchdog
            state.frozen = false
        }

        let deadline = Posix.deadline(after: options.startTimeout)
        var lastProblem = "no answer yet"
        while true {
            if let status = ChildProcess.reapIfExited(pid) {
                state.withLock { state in
                    if state.pid == pid {
                        state.pid = nil
                        state.watchdog = nil
                    }
                }
                watchdog?.dismiss()
                let tail = logTail()
                let error = RelQTestingError(
                    .serverStartFailed,
                    "redis-server on port \(port) \(ChildProcess.describe(status: status)) during startup; log tail:\n\(tail)")
                if tail.contains("Address already in use") {
                    throw PortInUse(underlying: error)
                }
                throw error
            }
            do {
                let reply = try RawRedis.command(
                    host: host, port: port, password: options.password, args: ["PING"], timeout: .milliseconds(500))
                if reply == .simple("PONG") { return }
                lastProblem = "PING answered \(reply)"  // e.g. LOADING: keep waiting
            } catch let error as RelQTestingError {
                lastProblem = error.message
            }
            if ContinuousClock.now >= deadline {
                let tail = logTail()
                if let (pid, watchdog, _) = takeProcess() {
                    ChildProcess.killAndReap(pid)
                    watchdog?.dismiss()
                }
                throw RelQTestingError(
                    .serverStartFailed,
                    "redis-server on port \(port) did not answer PONG within \(options.startTimeout) (\(lastProblem)); log tail:\n\(tail)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func resolveExecutable(_ options: Options) throws -> String {
        let environment = ProcessInfo.processInfo.environment["RELQ_REDIS_SERVER"].flatMap { $0.isEmpty ? nil : $0 }
        let requested = options.executablePath ?? environment ?? "redis-server"
        guard let path = ChildProcess.resolveExecutable(requested) else {
            let source = options.executablePath != nil ? "Options.executablePath" : (environment != nil ? "RELQ_REDIS_SERVER" : "PATH")
            throw RelQTestingError(
                .executableNotFound,
                "redis-server executable '\(requested)' (from \(source)) not found or not executable; install redis-server or set RELQ_REDIS_SERVER to its path")
        }
        return path
    }

    private static func makeTemporaryDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/relq-redis.XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else { throw Posix.systemError("mkdtemp in \(base)") }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func removeDirectory(_ directory: String) {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
