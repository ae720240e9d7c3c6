import ArgumentParser
import Foundation
import Logging
import RelQ

/// `relq stats`: a snapshot of queues, for people, scripts or Prometheus.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show queue depths, totals, limits and pause state.",
        discussion: """
            Without queue names, shows every queue (found with SCAN). A named queue that does not \
            exist is an error (exit 3).

            EXAMPLES
              relq stats                       # a table of every queue
              relq stats emails reports
              relq stats --watch --interval 2s # refresh in place until Ctrl-C
              relq stats emails --json         # JSON array of QueueStats
              relq stats --prometheus          # Prometheus text exposition format
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queues to show (default: every queue).")
    var queues: [String] = []

    @Flag(help: "Print a JSON array of the stats.")
    var json = false

    @Flag(help: "Print the Prometheus text exposition format.")
    var prometheus = false

    @Flag(help: "Refresh the table in place until interrupted.")
    var watch = false

    @Option(help: "The refresh interval of --watch.")
    var interval = DurationArgument(.seconds(1))

    func validate() throws {
        if json && prometheus { throw ValidationError("--json and --prometheus exclude each other") }
        if watch && (json || prometheus) { throw ValidationError("--watch shows the table; it cannot be combined with --json or --prometheus") }
        guard interval.duration >= .milliseconds(50) else { throw ValidationError("--interval must be at least 50ms") }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        let client = try connection.makeClient(logger: logger)
        defer { client.shutdown() }

        if watch {
            try await runWatch(client: client, logger: logger)
            return
        }
        let stats = try await collect(client: client, logger: logger)
        if json {
            print(try Self.json(stats))
        } else if prometheus {
            Terminal.write(Self.prometheus(stats))
        } else {
            Terminal.write(Self.table(stats))
        }
    }

    private func collect(client: RedisClient, logger: Logger) async throws -> [QueueStats] {
        try await Self.collect(queues, client: client, logger: logger)
    }

    static func collect(_ queues: [String], client: RedisClient, logger: Logger) async throws -> [QueueStats] {
        var handles: [ReliableQueue] = []
        if queues.isEmpty {
            for name in try await client.queueNames() {
                handles.append(try await openQueue(name, client: client, logger: logger, mustExist: false))
            }
        } else {
            for name in queues { handles.append(try await openQueue(name, client: client, logger: logger)) }
        }
        var stats: [QueueStats] = []
        for queue in handles { stats.append(try await queue.stats()) }
        return stats
    }

    private func runWatch(client: RedisClient, logger: Logger) async throws {
        let queues = queues
        let interval = interval
        Terminal.write("\u{1B}[?25l")
        defer { Terminal.write("\u{1B}[?25h\n") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = await waitForTerminationSignal() }
            group.addTask {
                while !Task.isCancelled {
                    let stats = try await Self.collect(queues, client: client, logger: logger)
                    let now = Date().formatted(date: .omitted, time: .standard)
                    Terminal.write("\u{1B}[H\u{1B}[2J" + "relq stats: \(client.configuration.endpoint) at \(now), every \(interval) (Ctrl-C to stop)\n\n" + Self.table(stats))
                    try await Task.sleep(for: interval.duration)
                }
            }
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch is CancellationError {}
        }
    }

    // MARK: - Rendering

    static func table(_ stats: [QueueStats]) -> String {
        if stats.isEmpty { return "no queues\n" }
        let header = ["QUEUE", "PENDING", "DELAYED", "WORKING", "DEAD", "OLDEST", "ENQUEUED", "RELEASED", "TIMED-OUT", "DEAD-LETTERED", "LIMITS", "PAUSED"]
        let rows = stats.map { s -> [String] in
            var limits: [String] = []
            if let working = s.workingLimit { limits.append("working≤\(working)") }
            if let rate = s.rateLimit { limits.append("rate \(rate)/\(DurationArgument.format(.milliseconds(s.rateWindowMilliseconds ?? 1000)))") }
            return [
                s.queue, "\(s.pending)", "\(s.delayed)", "\(s.working)", "\(s.dead)", Format.age(milliseconds: s.oldestPendingAgeMilliseconds),
                "\(s.enqueuedTotal)", "\(s.releasedTotal)", "\(s.timedOutTotal)", "\(s.deadLetteredTotal)",
                limits.isEmpty ? "-" : limits.joined(separator: ","), s.paused ? "yes" : "no",
            ]
        }
        return Format.table(header, rows, rightAligned: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    }

    static func json(_ stats: [QueueStats]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(stats), as: UTF8.self)
    }

    static func prometheus(_ stats: [QueueStats]) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                out += "\(name){\(labels)} \(sample.value)\n"
            }
        }
        family("relq_queue_depth", "gauge", "Tasks in each state of the queue.", stats.flatMap { s in
            [("pending", s.pending), ("delayed", s.delayed), ("working", s.working), ("dead", s.dead)].map {
                (labels: [("queue", s.queue), ("state", $0.0)], value: "\($0.1)")
            }
        })
        family("relq_tasks_total", "counter", "Task events since the queue was created.", stats.flatMap { s in
            [
                ("enqueued", s.enqueuedTotal), ("dequeued", s.dequeuedTotal), ("released", s.releasedTotal),
                ("requeued", s.requeuedTotal), ("timed_out", s.timedOutTotal), ("dead_lettered", s.deadLetteredTotal),
            ].map { (labels: [("queue", s.queue), ("event", $0.0)], value: "\($0.1)") }
        })
        family("relq_queue_oldest_pending_age_seconds", "gauge", "How long the oldest pending task has waited (0 when none is pending).", stats.map { s in
            (labels: [("queue", s.queue)], value: seconds(s.oldestPendingAgeMilliseconds ?? 0))
        })
        family("relq_queue_working_limit", "gauge", "The working limit in force (absent when there is none).", stats.compactMap { s in
            s.workingLimit.map { (labels: [("queue", s.queue)], value: "\($0)") }
        })
        family("relq_queue_rate_limit", "gauge", "The dequeues allowed per rate window (absent when there is no rate limit).", stats.compactMap { s in
            s.rateLimit.map { (labels: [("queue", s.queue)], value: "\($0)") }
        })
        family("relq_queue_paused", "gauge", "1 when dequeuing is paused, else 0.", stats.map { s in
            (labels: [("queue", s.queue)], value: s.paused ? "1" : "0")
        })
        return out
    }

    private static func seconds(_ milliseconds: Int64) -> String {
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)" }
        return String(format: "%.3f", Double(milliseconds) / 1000)
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
