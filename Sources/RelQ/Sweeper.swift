public import Logging
public import ServiceLifecycle

/// Gives expired leases back: every ``Configuration/interval`` it sweeps each queue until no
/// expired lease is left (``ReliableQueue/sweepAll(limit:retryDelay:maxCalls:)``), and promotes due
/// delayed tasks. Safe to run in several processes at once: each task is moved once.
///
/// ```swift
/// let sweeper = Sweeper(queues: [emails, reports], logger: logger)
/// let group = ServiceGroup(services: [sweeper], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public struct Sweeper: Service, Sendable {
    /// How often and how much to sweep.
    public struct Configuration: Sendable {
        /// The pause between sweeps. Default 1 s.
        public var interval: Duration
        /// The most expired leases per script call (each call is bounded; calls repeat until done).
        /// Default ``ReliableQueue/defaultSweepLimit`` (500).
        public var batchLimit: Int
        /// How long a recovered task waits before it is ready again. Default zero.
        public var retryDelay: Duration

        /// Creates a configuration.
        /// - Parameters:
        ///   - interval: the pause between sweeps.
        ///   - batchLimit: the most leases per script call, 1–1000.
        ///   - retryDelay: the delay of recovered tasks.
        public init(interval: Duration = .seconds(1), batchLimit: Int = ReliableQueue.defaultSweepLimit, retryDelay: Duration = .zero) {
            self.interval = interval
            self.batchLimit = batchLimit
            self.retryDelay = retryDelay
        }
    }

    /// The queues swept.
    public let queues: [ReliableQueue]
    /// The configuration.
    public let configuration: Configuration
    let logger: Logger

    /// Creates a sweeper.
    /// - Parameters:
    ///   - queues: the queues to sweep.
    ///   - configuration: interval, batch limit and retry delay.
    ///   - logger: where sweeps that moved something are logged (info), and failures (warning).
    public init(queues: [ReliableQueue], configuration: Configuration = Configuration(), logger: Logger) {
        self.queues = queues
        self.configuration = configuration
        self.logger = logger
    }

    /// Sweeps every interval until the task is cancelled or a graceful shutdown begins.
    /// A failed sweep (Redis down, …) is logged and tried again next interval.
    public func run() async throws {
        try Validation.count(configuration.batchLimit, "batchLimit", maximum: Validation.maxBatch)
        _ = try Validation.milliseconds(configuration.interval, "interval", minimum: .milliseconds(1))
        _ = try Validation.milliseconds(configuration.retryDelay, "retryDelay")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            _ = await sweepOnce()
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: configuration.interval)
                }
            } catch {
                break
            }
        }
    }

    /// Sweeps every queue once (until each has no expired lease left) and returns what moved,
    /// by queue name; queues whose sweep failed are logged and left out.
    @discardableResult
    public func sweepOnce() async -> [String: ReliableQueue.SweepResult] {
        var results: [String: ReliableQueue.SweepResult] = [:]
        for queue in queues {
            do {
                let result = try await queue.sweepAll(limit: configuration.batchLimit, retryDelay: configuration.retryDelay)
                results[queue.name] = result
                if result.recovered + result.deadLettered + result.trimmed > 0 {
                    logger.info(
                        "relq: swept expired leases",
                        metadata: [
                            "relq.queue": "\(queue.name)", "relq.recovered": "\(result.recovered)",
                            "relq.dead_lettered": "\(result.deadLettered)", "relq.promoted": "\(result.promoted)",
                            "relq.trimmed": "\(result.trimmed)",
                        ])
                }
            } catch {
                logger.warning("relq: sweep failed; retrying next interval", metadata: ["relq.queue": "\(queue.name)", "relq.error": "\(error)"])
            }
        }
        return results
    }
}
