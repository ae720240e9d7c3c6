#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import RelQ
import Synchronization

// MARK: - Clock

/// Monotonic time in nanoseconds (the payload timestamp of the latency scenario).
func benchNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// CPU time (user + system) of this process so far, all threads, in microseconds: the client's
/// side of a measurement (a throwaway redis-server is a child process and not counted).
func benchProcessCPUMicroseconds() -> Double {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func micros(_ time: timeval) -> Double { Double(time.tv_sec) * 1e6 + Double(time.tv_usec) }
    return micros(usage.ru_utime) + micros(usage.ru_stime)
}

// MARK: - Progress

/// The progress display on stderr: one updating line on a terminal, plain lines otherwise.
final class BenchProgress: Sendable {
    let isTerminal: Bool
    private let phase = Mutex<(name: String, started: UInt64)>(("", 0))
    /// Operations done in the current phase (updated by the workers, read by the ticker).
    let operations = Atomic<Int>(0)
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    init() {
        isTerminal = isatty(STDERR_FILENO) != 0
    }

    /// Starts a phase: on a terminal the line updates every 200 ms; otherwise one line is printed.
    func begin(_ name: String) {
        phase.withLock { $0 = (name, benchNanoseconds()) }
        operations.store(0, ordering: .relaxed)
        if isTerminal {
            ticker.withLock { task in
                if task == nil {
                    task = Task.detached { [self] in
                        while !Task.isCancelled {
                            self.redraw()
                            try? await Task.sleep(for: .milliseconds(200))
                        }
                    }
                }
            }
            redraw()
        } else {
            Self.emit("relq bench: \(name)\n")
        }
    }

    /// Prints a finished line (a result) above the updating line.
    func note(_ line: String) {
        Self.emit(isTerminal ? "\r\u{1B}[2K\(line)\n" : "relq bench:   \(line)\n")
    }

    /// Clears the updating line and stops the ticker.
    func finish() {
        ticker.withLock { task in
            task?.cancel()
            task = nil
        }
        if isTerminal { Self.emit("\r\u{1B}[2K") }
    }

    private func redraw() {
        let (name, started) = phase.withLock { $0 }
        let seconds = Double(benchNanoseconds() &- started) / 1e9
        let count = operations.load(ordering: .relaxed)
        let text = count > 0 ? "\(name): \(count) ops, \(String(format: "%.1f", seconds)) s" : "\(name): \(String(format: "%.1f", seconds)) s"
        Self.emit("\r\u{1B}[2K\(text)")
    }

    static func emit(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

// MARK: - Timed loops

/// How a timed loop went.
struct LoopMeasurement: Sendable {
    /// Operations (tasks, commands) completed inside the measuring window.
    var operations: Int
    /// The measuring window.
    var seconds: Double
    /// Operations completed in all, warm-up and tail included (for per-task server CPU).
    var totalOperations: Int
    /// Operations per second inside the window.
    var rate: Double { seconds > 0 ? Double(operations) / seconds : 0 }
}

/// The shared counters of one timed loop.
final class LoopState: Sendable {
    /// 0 warm-up, 1 measuring, 2 stop.
    let stage = Atomic<Int>(0)
    let counted = Atomic<Int>(0)
    let total = Atomic<Int>(0)
}

/// Runs `workers` concurrent loops of `body` (which returns how many operations one iteration
/// did): first a warm-up, then a measuring window of `duration`; only iterations that finish
/// inside the window count.
func measureLoop(
    workers: Int, warmUp: Duration, duration: Duration, progress: BenchProgress, executor: (any TaskExecutor)? = nil,
    _ body: @escaping @Sendable (_ worker: Int) async throws -> Int
) async throws -> LoopMeasurement {
    let state = LoopState()
    let window = try await withThrowingTaskGroup(of: Double?.self) { group in
        for worker in 0..<workers {
            @Sendable func work() async throws -> Double? {
                while true {
                    let before = state.stage.load(ordering: .acquiring)
                    if before == 2 { return nil }
                    let done = try await body(worker)
                    state.total.add(done, ordering: .relaxed)
                    progress.operations.add(done, ordering: .relaxed)
                    if before == 1 && state.stage.load(ordering: .acquiring) == 1 { state.counted.add(done, ordering: .relaxed) }
                }
            }
            // Plain addTask without an executor: `addTask(executorPreference: nil)` gives the task a
            // preference record that every executor switch then reads under the task's status lock
            // (~10 % of the client's CPU by perf), which an application's own tasks do not pay.
            if let executor {
                group.addTask(executorPreference: executor) { try await work() }
            } else {
                group.addTask { try await work() }
            }
        }
        group.addTask {
            try await Task.sleep(for: warmUp)
            state.stage.store(1, ordering: .releasing)
            let start = ContinuousClock.now
            try await Task.sleep(for: duration)
            state.stage.store(2, ordering: .releasing)
            return (ContinuousClock.now - start).secondsDouble
        }
        var seconds = 0.0
        for try await value in group {
            if let value { seconds = value }
        }
        return seconds
    }
    return LoopMeasurement(
        operations: state.counted.load(ordering: .relaxed), seconds: window, totalOperations: state.total.load(ordering: .relaxed))
}

// MARK: - Redis introspection (public API only)

extension RedisClient {
    /// One `INFO section` field as a number.
    func benchInfo(_ section: String, _ field: String) async throws -> Double? {
        let reply = try await send("INFO", section)
        guard let text = reply.string else { return nil }
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0] == field {
                return Double(parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// The server's CPU time so far (`used_cpu_sys + used_cpu_user`), in microseconds.
    func benchServerCPUMicroseconds() async throws -> Double {
        let system = try await benchInfo("cpu", "used_cpu_sys") ?? 0
        let user = try await benchInfo("cpu", "used_cpu_user") ?? 0
        return (system + user) * 1e6
    }

    /// Waits (up to 10 s) until Redis has freed what earlier `UNLINK`s left to its background
    /// thread, so that freeing neither competes with nor is billed to the next measurement.
    func benchSettle() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, (try await benchInfo("memory", "lazyfree_pending_objects") ?? 0) > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func benchServerVersion() async throws -> String {
        let reply = try await send("INFO", "server")
        for line in (reply.string ?? "").split(whereSeparator: \.isNewline) where line.hasPrefix("redis_version:") {
            return String(line.dropFirst("redis_version:".count)).trimmingCharacters(in: .whitespaces)
        }
        return "unknown"
    }

    /// `SCRIPT LOAD`, returning the SHA1.
    func benchLoadScript(_ source: String) async throws -> String {
        guard let sha = try await send("SCRIPT", "LOAD", source).string else {
            throw BenchError("SCRIPT LOAD returned no SHA")
        }
        return sha
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - redis-benchmark

/// Where `redis-benchmark` connects, derived from the same URL the client uses.
struct BenchTarget: Sendable {
    var host = "127.0.0.1"
    var port = 6379
    var socket: String?
    var user: String?
    var password: String?
    var database = 0

    /// Parses `redis://[user:password@]host[:port][/db]` or `unix:///path[?db=N]` (the forms RelQ accepts).
    init(url: String) throws {
        if url.hasPrefix("unix://") {
            var path = String(url.dropFirst("unix://".count))
            if let query = path.firstIndex(of: "?") {
                for pair in path[path.index(after: query)...].split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2, parts[0] == "db", let db = Int(parts[1]) { database = db }
                }
                path = String(path[..<query])
            }
            socket = path
            return
        }
        guard url.hasPrefix("redis://") else { throw BenchError("unsupported Redis URL") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = String(credentials[..<colon]).removingPercentEncoding ?? ""
                user = name.isEmpty ? nil : name
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding
            } else {
                password = String(credentials).removingPercentEncoding
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            database = Int(rest[rest.index(after: slash)...]) ?? 0
            rest = rest[..<slash]
        }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) ?? 6379 }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? 6379
        } else if !rest.isEmpty {
            host = String(rest)
        }
    }

    var connectionArguments: [String] {
        var arguments: [String] = socket.map { ["-s", $0] } ?? ["-h", host, "-p", String(port)]
        if let user { arguments += ["--user", user] }
        if let password { arguments += ["-a", password] }
        if database != 0 { arguments += ["--dbnum", String(database)] }
        return arguments
    }
}

/// Runs `redis-benchmark` (found on `PATH`) and returns requests per second.
struct ReferenceBenchmark: Sendable {
    let executable: String
    let target: BenchTarget

    init?(target: BenchTarget) {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/redis-benchmark"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                executable = candidate
                self.target = target
                return
            }
        }
        return nil
    }

    /// The command line for the report: `redis-benchmark -c 1 -P 16 -n N -- SET k v`.
    func describe(clients: Int, pipeline: Int, requests: Int, command: [String]) -> String {
        let shown = command.map { $0.count > 24 ? "<\($0.count) bytes>" : ($0.isEmpty ? "''" : $0) }
        return "redis-benchmark -c \(clients) -P \(pipeline) -n \(requests) \(shown.joined(separator: " "))"
    }

    func run(clients: Int, pipeline: Int, requests: Int, command: [String]) async throws -> Double {
        let arguments = target.connectionArguments
            + ["-c", String(clients), "-P", String(pipeline), "-n", String(requests), "--csv", "-q"] + command
        let executable = self.executable
        return try await Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            guard process.terminationStatus == 0, let rate = Self.parseCSV(text) else {
                throw BenchError("redis-benchmark failed (status \(process.terminationStatus)): \(text.prefix(200))")
            }
            return rate
        }.value
    }

    /// The `rps` column of the last data line of `--csv` output.
    static func parseCSV(_ text: String) -> Double? {
        var rate: Double?
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
            if fields.count >= 2, fields[0] != "test", let value = Double(fields[1]) { rate = value }
        }
        return rate
    }
}
