import ArgumentParser
import Foundation
import Logging
import RelQ
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `relq consume QUEUE`: a consumer process whose handler simulates work — the worker the
/// reliability tests kill, restart and stop (`Tests/RelQIntegrationTests/Reliability`).
///
/// Each task's handler sleeps `--work`, fails with probability `--fail-rate` (the task is
/// requeued with backoff), else appends `"<id> <token>\n"` to `--completion-log` **before**
/// returning, so the release happens after the completion is on record. `--crash-after N` ends
/// the process abruptly (`_exit(137)`, no release, no give-back) right after the N-th completion
/// is logged. SIGTERM/SIGINT shut down gracefully: no new tasks, running handlers get
/// `--grace`, unfinished tasks are given back to pending at once.
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Consume a queue with a simulated handler (sleep, random failures, completion log).",
        discussion: """
            A test and demo worker: the handler does no real work. Running shell commands per task \
            is out of scope. Exit codes: 0 after a graceful shutdown, 137 after --crash-after.
            """
    )

    @Argument(help: "The queue to consume ([A-Za-z0-9._-]{1,128}).")
    var queue: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "The most tasks handled at once.")
    var concurrency: Int = 4

    @Option(help: "The lease of a delivery (e.g. 500ms, 1s, 2m).")
    var lease = DurationArgument(.seconds(1))

    @Option(help: "Deliveries before a task is dead-lettered.")
    var maxAttempts: Int = 5

    @Option(help: "How long each handler sleeps (simulated work).")
    var work = DurationArgument(.milliseconds(5))

    @Option(help: "The probability (0-1) that a handler throws (the task is requeued with backoff).")
    var failRate: Double = 0

    @Option(help: "Fixed retry backoff after a failure.")
    var retryDelay = DurationArgument(.milliseconds(100))

    @Option(help: "Append \"<id> <token>\" per completed task to this file before its release.")
    var completionLog: String?

    @Option(help: "Exit abruptly (exit code 137, no release) right after this many completions.")
    var crashAfter: Int?

    @Option(help: "How long running handlers may finish after SIGTERM/SIGINT.")
    var grace = DurationArgument(.seconds(10))

    func validate() throws {
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be 1-1000") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        guard failRate.isFinite, (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        if let crashAfter, crashAfter < 1 { throw ValidationError("--crash-after must be at least 1") }
        guard lease.duration >= .milliseconds(1) else { throw ValidationError("--lease must be at least 1ms") }
    }

    func run() async throws {
        let logger = connection.makeLogger(label: "relq.consume")
        let client = try connection.makeClient(logger: logger)
        defer { client.shutdown() }
        let queue = try ReliableQueue(
            name: queue, client: client,
            configuration: ReliableQueue.Configuration(leaseTimeout: lease.duration, maxAttempts: maxAttempts),
            logger: logger)

        let log = try completionLog.map { try CompletionLog(path: $0) }
        let workDuration = work.duration
        let failRate = failRate
        let crashAfter = crashAfter
        let completions = CompletionCounter()

        let consumer = ConsumerService(
            queue: queue,
            configuration: ConsumerService.Configuration(
                concurrency: concurrency,
                waitTimeout: .seconds(1),
                retryBackoff: .fixed(retryDelay.duration),
                shutdownGracePeriod: grace.duration),
            logger: logger
        ) { delivery in
            if workDuration > .zero { try await Task.sleep(for: workDuration) }
            if failRate > 0, Double.random(in: 0..<1) < failRate {
                throw SimulatedFailure(attempt: delivery.attempt)
            }
            log?.append("\(delivery.id) \(delivery.lease.token)\n")
            let done = completions.increment()
            if let crashAfter, done >= crashAfter {
                _exit(137)  // a crash: no release, no give-back, no cleanup
            }
        }
        logger.info("relq: consuming", metadata: ["relq.queue": "\(queue.name)", "relq.concurrency": "\(concurrency)"])
        let group = ServiceGroup(services: [consumer], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        logger.info("relq: consumer stopped", metadata: ["relq.completed": "\(completions.value)"])
    }
}

/// How many tasks this process completed.
private final class CompletionCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }
    var value: Int { count.load(ordering: .relaxed) }
}

/// The error a handler throws for `--fail-rate`.
private struct SimulatedFailure: Error, CustomStringConvertible {
    let attempt: Int
    var description: String { "simulated failure (attempt \(attempt))" }
}

/// An append-only file written with one `write(2)` per line (`O_APPEND`: lines from several
/// processes never interleave). No fsync: a killed process's lines are in the page cache.
private final class CompletionLog: Sendable {
    private let fd: Int32

    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ValidationError("cannot open --completion-log '\(path)': \(String(cString: strerror(errno)))")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    func append(_ line: String) {
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
