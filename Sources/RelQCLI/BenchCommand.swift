import ArgumentParser
import Foundation
import Logging
import RelQ
import RelQTesting

/// `relq bench`: measures RelQ against Redis and `redis-benchmark` (issues #2 and #5).
///
/// Runs against `--url` / `REDIS_URL`, or a throwaway local `redis-server` when neither is set.
/// Progress goes to stderr; the result table (or, with `--json`, the JSON report) to stdout.
/// Timings are compared with goals but never fail the run: the exit status is non-zero only when
/// something broke. See `Benchmarks/README.md` for the JSON field names.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure RelQ throughput, latency and cost against Redis and redis-benchmark.",
        discussion: """
            Scenarios: \(BenchScenario.allCases.map(\.rawValue).joined(separator: ", ")) (default: all).
            Without --url and REDIS_URL a throwaway redis-server is started (AOF off unless --aof).
            Speeds are only meaningful as ratios to redis-benchmark measured in the same run.
            """
    )

    @Option(help: "The Redis URL (default: REDIS_URL, else a throwaway local redis-server).")
    var url: String?

    @Option(name: .customLong("scenario"), help: "A scenario to run (repeatable; default all).")
    var scenarios: [String] = []

    @Flag(help: "Small counts and short windows, for a CI smoke run (under 30 s).")
    var quick = false

    @Flag(help: "Print the report as JSON on stdout instead of the table.")
    var json = false

    @Flag(help: "Start the local redis-server with appendonly yes (appendfsync everysec).")
    var aof = false

    @Option(help: "The measuring window of each timed loop, in seconds (default 2, or 0.4 with --quick).")
    var seconds: Double?

    @Option(help: "RedisConfiguration.poolSize of the client (default: the library's default).")
    var poolSize: Int?

    @Option(name: .customLong("repeat"), help: "Run the scenarios N times and report medians with min – max (default 1).")
    var rounds: Int = 1

    func validate() throws {
        for name in scenarios where BenchScenario(rawValue: name) == nil {
            throw ValidationError("unknown scenario '\(name)'; choose from \(BenchScenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let seconds, !(seconds > 0 && seconds <= 600) { throw ValidationError("--seconds must be in (0, 600]") }
        if let poolSize, !(1...64).contains(poolSize) { throw ValidationError("--pool-size must be 1-64") }
        if !(1...20).contains(rounds) { throw ValidationError("--repeat must be 1-20") }
    }

    func run() async throws {
        let selected = scenarios.isEmpty ? BenchScenario.allCases : BenchScenario.allCases.filter { scenarios.contains($0.rawValue) }
        var logger = Logger(label: "relq.bench")
        logger.logLevel = .warning
        let progress = BenchProgress()
        let started = ContinuousClock.now

        var server: RedisServer?
        let target: String
        let redisURL: String
        if let given = url ?? ProcessInfo.processInfo.environment["REDIS_URL"], !given.isEmpty {
            redisURL = given
            target = Self.redacted(given)
            if aof { progress.note("--aof applies only to the local server; ignored for \(target)") }
        } else {
            progress.begin("starting a throwaway redis-server\(aof ? " (AOF everysec)" : "")")
            let started = try await RedisServer.start(RedisServer.Options(appendOnly: aof))
            server = started
            redisURL = started.url
            target = "local"
        }
        defer { server?.stop() }

        var configuration = try RedisConfiguration(url: redisURL)
        if let poolSize { configuration.poolSize = poolSize }
        let client = try RedisClient(configuration: configuration, logger: logger)
        defer { client.shutdown() }
        let reference = ReferenceBenchmark(target: try BenchTarget(url: redisURL))
        if reference == nil { progress.note("redis-benchmark not found on PATH: ratios are left out") }

        let formatter = ISO8601DateFormatter()
        var report = BenchReport(
            startedAt: formatter.string(from: Date()), redisTarget: target, aof: aof && server != nil, quick: quick,
            cpuCount: ProcessInfo.processInfo.activeProcessorCount, poolSize: configuration.poolSize,
            redisBenchmark: reference != nil, scenarios: selected.map(\.rawValue))
        report.rounds = rounds
        do {
            report.redisVersion = try await client.benchServerVersion()
        } catch {
            progress.finish()
            throw BenchError("cannot reach Redis at \(target): \(error)")
        }

        var measured: [[BenchResult]] = []
        for round in 1...rounds {
            if rounds > 1 { progress.note("round \(round) of \(rounds)") }
            // A fresh context per round: no cycle measurement is reused across rounds.
            let context = BenchContext(
                client: client, reference: reference, quick: quick, window: seconds.map { .milliseconds(Int($0 * 1000)) },
                progress: progress, logger: logger)
            var results: [BenchResult] = []
            for scenario in selected {
                do {
                    results += try await scenario.run(context)
                } catch {
                    let prefix = rounds > 1 ? "round \(round): " : ""
                    report.errors.append("\(prefix)\(scenario.rawValue): \(error)")
                    progress.note("\(prefix)\(scenario.rawValue) failed: \(error)")
                }
            }
            measured.append(results)
        }
        report.results = rounds == 1 ? measured[0] : BenchResult.medians(of: measured)
        progress.finish()
        report.durationSeconds = (ContinuousClock.now - started).secondsDouble
        print(json ? try report.json() : report.table())
        if !report.errors.isEmpty { throw ExitCode(1) }
    }

    /// The URL without its password.
    static func redacted(_ url: String) -> String {
        guard url.hasPrefix("redis://"), let at = url.lastIndex(of: "@") else { return url }
        let credentials = url[url.index(url.startIndex, offsetBy: "redis://".count)..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return "redis://***@" + url[url.index(after: at)...] }
        return "redis://" + credentials[..<colon] + ":***@" + url[url.index(after: at)...]
    }
}
