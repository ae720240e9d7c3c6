import Foundation
import Logging
import RelQ
import RelQTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared helpers of the reliability scenarios (issue #6, `RELIABILITY.md`). Everything lives in
/// this namespace so it cannot collide with the other suites' helpers.
enum Harness {
    /// `RELQ_SOAK=1` selects the long variants.
    static var soak: Bool { ProcessInfo.processInfo.environment["RELQ_SOAK"] == "1" }

    /// A logger that drops everything: fault scenarios make the library log warnings by design.
    static let quietLogger = Logger(label: "relq.reliability") { _ in SwiftLogNoOpLogHandler() }

    /// A client for `url` with test-friendly timeouts.
    static func client(
        _ url: String, commandTimeout: Duration = .seconds(2), _ configure: (inout RedisConfiguration) -> Void = { _ in }
    ) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url)
        configuration.commandTimeout = commandTimeout
        configuration.connectTimeout = .milliseconds(500)
        configuration.reconnectBackoffLimit = .milliseconds(100)
        configure(&configuration)
        return try RedisClient(configuration: configuration, logger: quietLogger)
    }

    /// A queue on `client`.
    static func queue(_ client: RedisClient, _ name: String, _ configuration: ReliableQueue.Configuration = .init()) throws -> ReliableQueue {
        try ReliableQueue(name: name, client: client, configuration: configuration, logger: quietLogger)
    }

    /// Prints one line of figures, `RELIABILITY <scenario>: k=v …`, and appends it to
    /// `$RELQ_RELIABILITY_REPORT` if set (RELIABILITY.md is written from these lines).
    static func report(_ scenario: String, _ figures: [(String, Any)]) {
        let line = "RELIABILITY \(scenario): " + figures.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        print(line)
        if let path = ProcessInfo.processInfo.environment["RELQ_RELIABILITY_REPORT"], !path.isEmpty {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            if fd >= 0 {
                let bytes = Array((line + "\n").utf8)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
    }

    /// Polls `condition` every `interval` until it holds or `timeout` passes; returns whether it held.
    static func waitUntil(
        timeout: Duration, interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
    ) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: interval)
        }
    }

    /// The Redis server clock (`TIME`) in milliseconds.
    static func redisTimeMilliseconds(_ server: RedisServer) throws -> Int64 {
        let parts = try #require(try server.command("TIME").array)
        let seconds = try #require(parts[0].string.flatMap { Int64($0) })
        let micros = try #require(parts[1].string.flatMap { Int64($0) })
        return seconds * 1000 + micros / 1000
    }

    /// All task ids stored in a queue (`HKEYS relq:{q}:tasks`, without the encoding anchor, the
    /// empty field), read around the library.
    static func storedIDs(_ server: RedisServer, queue: String) throws -> Set<String> {
        let reply = try server.command("HKEYS", "relq:{\(queue)}:tasks", timeout: .seconds(10))
        return Set((reply.array ?? []).compactMap(\.string).filter { !$0.isEmpty })
    }

    /// A fresh temporary directory for logs.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "relq-reliability-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Reads a completion log (`"<id> <token>"` per line) into id → completion count.
    static func completions(_ path: String) -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var counts: [String: Int] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let id = line.split(separator: " ").first else { continue }
            counts[String(id), default: 0] += 1
        }
        return counts
    }
}

/// Thread-safe id bookkeeping for producers and handlers: a multiset of ids.
final class IDLedger: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func add(_ id: String) { counts.withLock { $0[id, default: 0] += 1 } }
    func add(_ ids: [String]) { counts.withLock { for id in ids { $0[id, default: 0] += 1 } } }
    var snapshot: [String: Int] { counts.withLock { $0 } }
    var uniqueCount: Int { counts.withLock { $0.count } }
    /// Recorded entries beyond the first per id.
    var duplicates: Int { counts.withLock { $0.values.reduce(0) { $0 + $1 - 1 } } }
}

/// A counter shared between a test and its background loops.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ amount: Int = 1) { value.add(amount, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// A stop flag shared between a test and its background loops.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func stop() { value.store(true, ordering: .relaxed) }
    var isStopped: Bool { value.load(ordering: .relaxed) }
}

/// A `relq consume` child process (the built `relq` binary next to the test bundle, or `$RELQ_BINARY`),
/// started and reaped with ``Subprocess`` (no Foundation `Process`, no blocking waits).
final class ConsumerProcess: Sendable {
    let subprocess: Subprocess
    let arguments: [String]

    /// The `relq` executable: `$RELQ_BINARY`, else `relq` in the directory of the test bundle.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["RELQ_BINARY"], !path.isEmpty { return path }
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return directory.appendingPathComponent("relq").path
    }

    private init(subprocess: Subprocess, arguments: [String]) {
        self.subprocess = subprocess
        self.arguments = arguments
    }

    /// Starts `relq <arguments>`, stdout and stderr appended to `outputPath`.
    static func launch(_ arguments: [String], outputPath: String) throws -> ConsumerProcess {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw RelQTestingError(.executableNotFound, "relq binary not found at \(binary): build it (swift build) or set RELQ_BINARY")
        }
        let subprocess = try Subprocess.launch(binary, arguments: arguments, stdoutPath: outputPath)
        return ConsumerProcess(subprocess: subprocess, arguments: arguments)
    }

    var pid: Int32 { subprocess.pid }
    var isRunning: Bool { subprocess.isRunning }
    /// The exit code (128 + signal when killed); -1 while it runs.
    var terminationStatus: Int32 { subprocess.exitStatus?.code ?? -1 }
    /// Whether it exited by itself (not killed by a signal).
    var exitedNormally: Bool { subprocess.exitStatus.map { $0.signal == nil } ?? false }

    /// Sends a signal (SIGKILL for a crash, SIGTERM for a graceful stop).
    func signal(_ signal: Int32) {
        subprocess.send(signal)
    }

    /// Waits for the exit; returns whether it happened within `timeout`.
    @discardableResult
    func waitForExit(timeout: Duration) async -> Bool {
        await subprocess.waitForExit(timeout: timeout) != nil
    }

    /// Kills the process (SIGKILL) and waits for it; for cleanup.
    func terminate() async {
        signal(SIGKILL)
        await waitForExit(timeout: .seconds(5))
    }
}
