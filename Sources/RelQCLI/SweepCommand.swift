import ArgumentParser
import Logging
import RelQ
import ServiceLifecycle

/// `relq sweep`: gives expired leases back (and promotes due delayed tasks).
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Give expired leases back to their queues; runs until SIGINT/SIGTERM.",
        discussion: """
            Runs a sweeper: every --interval it moves tasks whose lease ran out back to pending \
            (or to the dead-letter queue after their last attempt) and promotes due delayed tasks. \
            Each sweep that moved something is logged. Safe to run in several processes at once.

            EXAMPLES
              relq sweep emails                     # sweep one queue every second
              relq sweep emails reports --interval 250ms
              relq sweep --all                      # every queue (rescanned each minute)
              relq sweep --all --once               # sweep once, print what moved, exit
              relq sweep emails --retry-delay 5s    # recovered tasks wait 5 s
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queues to sweep.")
    var queues: [String] = []

    @Flag(help: "Sweep every queue (found with SCAN; rescanned each minute).")
    var all = false

    @Flag(help: "Sweep once, print what moved, and exit.")
    var once = false

    @Option(help: "The pause between sweeps (e.g. 250ms, 1s, 1m).")
    var interval = DurationArgument(.seconds(1))

    @Option(help: "The most expired leases per script call (1-1000).")
    var batch = ReliableQueue.defaultSweepLimit

    @Option(help: "How long a recovered task waits before it is ready again.")
    var retryDelay = DurationArgument(.zero)

    func validate() throws {
        if all && !queues.isEmpty { throw ValidationError("give queue names or --all, not both") }
        if !all && queues.isEmpty { throw ValidationError("name at least one queue, or pass --all") }
        guard (1...1000).contains(batch) else { throw ValidationError("--batch must be 1-1000, got \(batch)") }
        guard interval.duration >= .milliseconds(1) else { throw ValidationError("--interval must be at least 1ms") }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        let client = try connection.makeClient(logger: logger)
        defer { client.shutdown() }
        let sweeperConfiguration = Sweeper.Configuration(interval: interval.duration, batchLimit: batch, retryDelay: retryDelay.duration)

        var named: [ReliableQueue] = []
        for name in queues {
            named.append(try await openQueue(name, client: client, logger: logger))
        }

        if once {
            let handles = all ? try await allQueues(client: client, logger: logger) : named
            if handles.isEmpty {
                print("no queues found")
                return
            }
            var failed = false
            for queue in handles {
                do {
                    let result = try await queue.sweepAll(limit: batch, retryDelay: retryDelay.duration)
                    print("\(queue.name): recovered \(result.recovered), dead-lettered \(result.deadLettered), promoted \(result.promoted), trimmed \(result.trimmed)")
                } catch let error as ReliableQueueError where error.code == .connectionFailed {
                    throw error
                } catch {
                    failed = true
                    Terminal.writeError("relq: sweeping '\(queue.name)' failed: \(error)\n")
                }
            }
            if failed { throw CLIError.failure("some sweeps failed") }
            return
        }

        // Fail fast when Redis is unreachable, before running for good.
        _ = try await client.send("PING")
        let service: any Service
        if all {
            service = AllQueuesSweeper(client: client, configuration: sweeperConfiguration, logger: logger)
            logger.info("relq: sweeping every queue", metadata: ["relq.endpoint": "\(client.configuration.endpoint)", "relq.interval": "\(interval)"])
        } else {
            service = Sweeper(queues: named, configuration: sweeperConfiguration, logger: logger)
            logger.info("relq: sweeping", metadata: ["relq.endpoint": "\(client.configuration.endpoint)", "relq.queues": "\(queues.joined(separator: ","))", "relq.interval": "\(interval)"])
        }
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        logger.info("relq: sweeper stopped")
    }

    private func allQueues(client: RedisClient, logger: Logger) async throws -> [ReliableQueue] {
        try await client.queueNames().map { try ReliableQueue(name: $0, client: client, logger: logger) }
    }
}

/// Sweeps every queue found with `SCAN`, rescanning the names every `rescanInterval`.
struct AllQueuesSweeper: Service {
    let client: RedisClient
    let configuration: Sweeper.Configuration
    let logger: Logger
    var rescanInterval: Duration = .seconds(60)

    func run() async throws {
        var sweeper: Sweeper?
        var lastScan: ContinuousClock.Instant?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if lastScan == nil || ContinuousClock.now - lastScan! >= rescanInterval || sweeper == nil {
                do {
                    let names = try await client.queueNames()
                    let queues = try names.map { try ReliableQueue(name: $0, client: client, logger: logger) }
                    if names != sweeper?.queues.map(\.name) {
                        logger.info("relq: found queues", metadata: ["relq.queues": "\(names.joined(separator: ","))", "relq.count": "\(names.count)"])
                    }
                    sweeper = Sweeper(queues: queues, configuration: configuration, logger: logger)
                    lastScan = .now
                } catch {
                    logger.warning("relq: listing queues failed; retrying next interval", metadata: ["relq.error": "\(error)"])
                }
            }
            if let sweeper { await sweeper.sweepOnce() }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.interval) }
            } catch {
                break
            }
        }
    }
}
