public import Logging
public import ServiceLifecycle
import Synchronization

/// A consumer loop: runs a handler for each delivery with bounded concurrency.
///
/// - Waits for work on the queue's signal (no busy polling) and dequeues as many tasks as it has
///   free slots, in one call.
/// - Extends a task's lease while its handler runs past ``Configuration/leaseExtensionAt`` of it.
/// - Releases the task when the handler returns, taking the next ready task along in the same
///   script call (``ReliableQueue/releaseAndDequeue(_:)``): a busy slot needs one round trip per
///   task. When the handler throws, requeues the task after the
///   ``Configuration/retryBackoff`` delay — the task dead-letters after its max attempts.
/// - On graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`) it stops dequeuing, lets
///   running handlers finish within ``Configuration/shutdownGracePeriod``, then gives the
///   unfinished tasks back at once (without counting the attempt), so nobody waits for a sweep.
///
/// ```swift
/// let consumer = ConsumerService(queue: queue, logger: logger) { delivery in
///     try await sendEmail(delivery.payload)
/// }
/// let group = ServiceGroup(services: [consumer], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public final class ConsumerService: Service, Sendable {
    /// How the loop runs.
    public struct Configuration: Sendable {
        /// The most handlers running at once. Default 8.
        public var concurrency: Int
        /// How long one dequeue waits for work before the loop asks again. Default 5 s.
        public var waitTimeout: Duration
        /// The fraction of a lease after which it is extended (by a full lease). Default 0.5.
        public var leaseExtensionAt: Double
        /// The delay before a failed task's next attempt. Default exponential from 1 s, ×2, capped at 5 min, ±20 %.
        public var retryBackoff: RetryBackoff
        /// How long running handlers may finish after a graceful shutdown begins. Default 10 s.
        public var shutdownGracePeriod: Duration

        /// Creates a configuration.
        /// - Parameters:
        ///   - concurrency: the most handlers at once, 1–1000.
        ///   - waitTimeout: how long one dequeue waits.
        ///   - leaseExtensionAt: the fraction of a lease after which it is extended, 0.1–0.9.
        ///   - retryBackoff: the delay before a failed task's next attempt.
        ///   - shutdownGracePeriod: how long handlers may finish at shutdown.
        public init(
            concurrency: Int = 8,
            waitTimeout: Duration = .seconds(5),
            leaseExtensionAt: Double = 0.5,
            retryBackoff: RetryBackoff = .exponential(),
            shutdownGracePeriod: Duration = .seconds(10)
        ) {
            self.concurrency = concurrency
            self.waitTimeout = waitTimeout
            self.leaseExtensionAt = leaseExtensionAt
            self.retryBackoff = retryBackoff
            self.shutdownGracePeriod = shutdownGracePeriod
        }

        func validate() throws {
            try Validation.count(concurrency, "concurrency", maximum: Validation.maxBatch)
            _ = try Validation.milliseconds(waitTimeout, "waitTimeout", minimum: .milliseconds(1))
            _ = try Validation.milliseconds(shutdownGracePeriod, "shutdownGracePeriod")
            guard leaseExtensionAt.isFinite, (0.1...0.9).contains(leaseExtensionAt) else {
                throw ReliableQueueError(.invalidArgument, "leaseExtensionAt must be 0.1-0.9, got \(leaseExtensionAt)")
            }
            try retryBackoff.validate()
        }
    }

    /// A handler: return to release the task, throw to requeue it (with backoff).
    public typealias Handler = @Sendable (Delivery) async throws -> Void

    /// The queue consumed.
    public let queue: ReliableQueue
    /// The configuration.
    public let configuration: Configuration
    let logger: Logger
    let handler: Handler
    /// Deliveries being handled, by (task id, lease token): the tasks of a lease group share a token.
    private let inFlight = Mutex<[LeaseKey: Delivery]>([:])

    /// Creates a consumer loop; nothing runs until ``run()``.
    /// - Parameters:
    ///   - queue: the queue to consume.
    ///   - configuration: concurrency, waits, lease extension, retry backoff, shutdown grace.
    ///   - logger: where the loop logs (debug per task; info for dead letters and shutdown).
    ///   - handler: the work for one delivery.
    public init(queue: ReliableQueue, configuration: Configuration = Configuration(), logger: Logger, handler: @escaping Handler) {
        self.queue = queue
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
    }

    /// Tasks being handled now.
    public var inFlightCount: Int { inFlight.withLock { $0.count } }

    /// Runs until the task is cancelled or a graceful shutdown begins; then shuts down as described
    /// above and returns. Redis faults while dequeuing are logged and retried with backoff.
    public func run() async throws {
        try configuration.validate()
        let slots = Slots(configuration.concurrency)
        await withDiscardingTaskGroup { group in
            var failures = 0
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let deliveries: [Delivery]
                do {
                    // One wrapper for both waits: for a free slot (handlers may run for a long time)
                    // and for work. A shutdown cancels either; a wait for a slot then returns 0.
                    deliveries = try await cancelWhenGracefulShutdown { [queue, configuration] in
                        let free = await slots.waitForFree()
                        guard free > 0 else { return [] }
                        return try await queue.dequeue(max: free, wait: configuration.waitTimeout, leaseGroup: false).deliveries
                    }
                    failures = 0
                } catch is CancellationError {
                    break
                } catch {
                    failures += 1
                    let pause = Duration.milliseconds(min(2000, 50 << min(failures, 6)))
                    logger.warning("relq: dequeue failed; retrying", metadata: ["relq.error": "\(error)", "relq.retry_in": "\(pause)"])
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                    continue
                }
                for delivery in deliveries {
                    slots.take()
                    inFlight.withLock { $0[LeaseKey(delivery)] = delivery }
                    group.addTask { [self] in
                        // A slot keeps working while each release brings the next task along.
                        var current: Delivery? = delivery
                        while let task = current {
                            current = await self.handle(task)
                            inFlight.withLock { inFlight in
                                _ = inFlight.removeValue(forKey: LeaseKey(task))
                                if let next = current { inFlight[LeaseKey(next)] = next }
                            }
                        }
                        slots.give()
                    }
                }
            }
            await shutDown(slots: slots, group: &group)
        }
    }

    private func shutDown(slots: Slots, group: inout DiscardingTaskGroup) async {
        let running = inFlightCount
        logger.info("relq: consumer stopping", metadata: ["relq.queue": "\(queue.name)", "relq.in_flight": "\(running)"])
        if running > 0 {
            await slots.waitUntilIdle(timeout: configuration.shutdownGracePeriod)
        }
        let unfinished = inFlight.withLock { Array($0.values) }
        for delivery in unfinished {
            do {
                try await queue.giveBack(delivery)
                logger.info("relq: gave back an unfinished task", metadata: ["relq.task.id": "\(delivery.id)"])
            } catch {
                logger.debug("relq: could not give back a task (the sweeper will)", metadata: ["relq.task.id": "\(delivery.id)", "relq.error": "\(error)"])
            }
        }
        group.cancelAll()
    }

    /// Runs the handler, then releases or requeues the task. Returns the next task when the
    /// release took one along (``ReliableQueue/releaseAndDequeue(_:)``), already leased to this slot.
    private func handle(_ delivery: Delivery) async -> Delivery? {
        var metadataLogger = logger
        metadataLogger[metadataKey: "relq.task.id"] = "\(delivery.id)"
        metadataLogger[metadataKey: "relq.attempt"] = "\(delivery.attempt)"
        let taskLogger = metadataLogger
        let started = ContinuousClock.now
        let outcome: (any Error)? = await withTaskGroup(of: Void.self) { extender in
            extender.addTask { [self] in await self.keepExtending(delivery, logger: taskLogger) }
            defer { extender.cancelAll() }
            do {
                try await handler(delivery)
                return nil
            } catch {
                return error
            }
        }
        if Task.isCancelled {
            return nil  // shutdown past the grace period: the task was given back
        }
        if let failure = outcome {
            let delay = configuration.retryBackoff.delay(afterAttempt: delivery.attempt)
            do {
                let result = try await queue.requeue(delivery, delay: delay, error: String(describing: failure))
                if result == .deadLettered {
                    taskLogger.info("relq: task dead-lettered after its last attempt", metadata: ["relq.error": "\(failure)"])
                } else {
                    taskLogger.debug("relq: task failed; requeued", metadata: ["relq.error": "\(failure)", "relq.retry_in": "\(delay)"])
                }
            } catch {
                taskLogger.debug("relq: requeue failed (the sweeper will recover the task)", metadata: ["relq.error": "\(error)"])
            }
            return nil
        }
        queue.metrics.ran(ContinuousClock.now - started)
        return await releaseTakingNext(delivery, logger: taskLogger)
    }

    /// Releases the task and takes the next ready one in the same call, unless the service is
    /// stopping. When the call fails its outcome is unknown: the release is retried alone (a task
    /// the failed call may have leased is recovered by the sweeper when its lease runs out).
    private func releaseTakingNext(_ delivery: Delivery, logger: Logger) async -> Delivery? {
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else {
            await releaseRetrying(delivery, logger: logger)
            return nil
        }
        let result: ReliableQueue.ReleaseAndDequeueResult
        do {
            result = try await queue.releaseAndDequeue(delivery)
        } catch {
            logger.debug("relq: release failed; retrying", metadata: ["relq.error": "\(error)"])
            await releaseRetrying(delivery, logger: logger)
            return nil
        }
        if let outcome = result.outcomes.first { log(outcome, logger: logger) }
        guard let next = result.next.deliveries.first else { return nil }
        if Task.isShuttingDownGracefully || Task.isCancelled {
            // Stopping: hand the task straight back, unprocessed (its attempt does not count).
            try? await queue.giveBack(next)
            return nil
        }
        return next
    }

    /// Releases, retrying a release whose outcome is unknown: a retry that finds the task gone
    /// means the first one worked.
    private func releaseRetrying(_ delivery: Delivery, logger: Logger) async {
        for attempt in 1...3 {
            do {
                let outcome = try await queue.release([delivery])[0]
                if attempt == 1 || outcome != .notFound { log(outcome, logger: logger) }
                return
            } catch {
                logger.debug("relq: release failed; retrying", metadata: ["relq.error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    /// Logs a release that did not finish the task (a released one needs no line).
    private func log(_ outcome: ReliableQueue.ReleaseOutcome, logger: Logger) {
        if outcome == .staleLease {
            logger.info("relq: lease ran out before release; the task was delivered again")
        } else if outcome == .notFound {
            logger.debug("relq: task already gone at release")
        }
    }

    /// Extends the lease each time `leaseExtensionAt` of it has passed, until cancelled.
    private func keepExtending(_ delivery: Delivery, logger: Logger) async {
        let lease = delivery.lease.deadline.duration(since: delivery.deliveredAt)
        guard lease > .zero else { return }
        let interval = lease * configuration.leaseExtensionAt
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                try await queue.extendLease(delivery, by: lease)
            } catch is CancellationError {
                return
            } catch let error as ReliableQueueError where error.code == .staleLease || error.code == .taskNotFound {
                logger.info("relq: lost the lease while the handler ran", metadata: ["relq.error": "\(error)"])
                return
            } catch {
                logger.debug("relq: lease extension failed; trying again", metadata: ["relq.error": "\(error)"])
            }
        }
    }
}

/// Free handler slots of a consumer loop.
final class Slots: Sendable {
    private struct State {
        var free: Int
        let total: Int
        var freeWaiter: CheckedContinuation<Void, Never>?
        var idleWaiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(_ total: Int) {
        state = Mutex(State(free: total, total: total))
    }

    /// Waits until at least one slot is free; returns how many are, or 0 when the task is cancelled.
    func waitForFree() async -> Int {
        while !Task.isCancelled {
            let free = state.withLock { $0.free }
            if free > 0 { return free }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.free > 0 || Task.isCancelled { return true }
                        state.freeWaiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.freeWaiter = nil }
                    return state.freeWaiter
                }
                waiter?.resume()
            }
        }
        return 0
    }

    func take() { state.withLock { $0.free -= 1 } }

    func give() {
        let (freeWaiter, idleWaiter) = state.withLock { state -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
            state.free += 1
            let free = state.freeWaiter
            state.freeWaiter = nil
            var idle: CheckedContinuation<Void, Never>?
            if state.free == state.total {
                idle = state.idleWaiter
                state.idleWaiter = nil
            }
            return (free, idle)
        }
        freeWaiter?.resume()
        idleWaiter?.resume()
    }

    /// Waits until every slot is free or `timeout` passes.
    func waitUntilIdle(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.free == state.total { return true }
                        state.idleWaiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            // Unblock the idle waiter if the timeout won.
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.idleWaiter = nil }
                return state.idleWaiter
            }
            waiter?.resume()
        }
    }
}

/// A delivery's identity: its task id and lease token (unique per delivery together).
private struct LeaseKey: Hashable {
    let id: String
    let token: Int64

    init(_ delivery: Delivery) {
        id = delivery.id
        token = delivery.lease.token
    }
}
