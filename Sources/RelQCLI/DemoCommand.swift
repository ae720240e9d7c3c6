import ArgumentParser
import Foundation
import Logging
import RelQ
import RelQTesting
import ServiceLifecycle
import Synchronization

/// `relq demo`: producers, consumers, a crashing consumer and a sweeper on one queue; every task
/// completes, the crashed consumer's tasks are recovered, none is lost.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show reliability end to end: a consumer crashes, the sweeper recovers its tasks, nothing is lost.",
        discussion: """
            Uses $REDIS_URL (or --url) when set, else starts a throwaway redis-server (and stops it \
            at the end). Producers enqueue the tasks in batches (some delayed by a second); several \
            consumers (ConsumerService) work on them; one consumer takes a few tasks and "crashes" \
            without releasing them; a sweeper (every 250 ms) gives them back once their lease runs \
            out. The demo uses a fresh queue demo-<random> and deletes it at the end.

            Exits 0 only when every task completed and the crashed consumer's tasks were recovered.

            EXAMPLES
              relq demo
              relq demo --tasks 10000 --consumers 5 --lease 1s
              REDIS_URL=redis://127.0.0.1:6379 relq demo
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "How many tasks to enqueue.") var tasks = 2000
    @Option(help: "How many consumers to run.") var consumers = 3
    @Option(help: "The handlers running at once in each consumer.") var concurrency = 8
    @Option(help: "The lease of each delivery: how long the crashed consumer's tasks stay stuck.") var lease = DurationArgument(.seconds(2))
    @Option(help: "Give up (and fail) after this long.") var timeout = DurationArgument(.seconds(120))

    func validate() throws {
        guard (10...1_000_000).contains(tasks) else { throw ValidationError("--tasks must be 10-1000000, got \(tasks)") }
        guard (1...64).contains(consumers) else { throw ValidationError("--consumers must be 1-64, got \(consumers)") }
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be 1-1000, got \(concurrency)") }
        guard lease.duration >= .milliseconds(100), lease.duration <= .seconds(60) else { throw ValidationError("--lease must be 100ms-60s") }
        guard timeout.duration >= .seconds(1) else { throw ValidationError("--timeout must be at least 1s") }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        var server: RedisServer?
        let url: String
        if connection.isURLGiven {
            url = connection.resolvedURL
        } else {
            Terminal.writeError("relq demo: REDIS_URL is not set; starting a throwaway redis-server (stopped at the end)\n")
            do {
                server = try await RedisServer.start()
            } catch {
                throw CLIError.failure("could not start a throwaway redis-server (install redis-server or set REDIS_URL): \(error)")
            }
            url = server!.url
        }
        defer { server?.stop() }
        var redisConfiguration = try RedisConfiguration(url: url)
        redisConfiguration.connectTimeout = .seconds(2)
        redisConfiguration.clientName = "relq-demo"
        let client = try RedisClient(configuration: redisConfiguration, logger: logger)
        defer { client.shutdown() }
        _ = try await client.send("PING")
        Terminal.writeError("relq demo: using Redis at \(redisConfiguration.endpoint)\n")

        let name = "demo-" + String(UInt32.random(in: .min ... .max), radix: 16)
        let queue = try ReliableQueue(name: name, client: client, configuration: .init(leaseTimeout: lease.duration), logger: logger)
        let outcome: Outcome
        do {
            outcome = try await runDemo(queue: queue, logger: logger)
        } catch {
            try? await queue.deleteQueue()
            throw error
        }
        try? await queue.deleteQueue()

        let elapsed = outcome.elapsed.secondsDouble
        print("relq demo summary (queue \(name), \(consumers) consumers × \(concurrency), lease \(lease))")
        print("  tasks enqueued:  \(tasks)")
        print("  completed:       \(outcome.completed)\(outcome.duplicates == 0 ? " (each exactly once)" : "")")
        print("  duplicates:      \(outcome.duplicates)")
        print("  crashed held:    \(outcome.crashed.count)")
        print("  recovered:       \(outcome.recovered) (by the sweeper; crashed consumer's tasks completed: \(outcome.crashedCompleted)/\(outcome.crashed.count))")
        print("  lost:            \(outcome.lost)\(outcome.failure == nil ? "" : " (not completed: \(outcome.failure!))")")
        print(String(format: "  elapsed:         %.2f s", elapsed))
        print(String(format: "  throughput:      %.0f tasks/s", elapsed > 0 ? Double(outcome.completed) / elapsed : 0))
        let ok = outcome.lost == 0 && outcome.completed == tasks && outcome.crashedCompleted == outcome.crashed.count
            && outcome.recovered >= outcome.crashed.count && !outcome.crashed.isEmpty && outcome.failure == nil
        print("  result:          \(ok ? "OK" : "FAILED")")
        if !ok {
            throw CLIError.failure("demo failed: \(outcome.failure ?? "not every task completed or the crashed consumer's tasks were not recovered")")
        }
    }

    struct Outcome {
        var completed: Int
        var duplicates: Int
        var lost: Int
        var recovered: Int
        var crashed: [String]
        var crashedCompleted: Int
        var elapsed: Duration
        var failure: String?
    }

    /// Shared between handlers, producer and monitor.
    final class State: Sendable {
        struct Values {
            var completions: [String: Int] = [:]
            var produced = 0
            var producerDone = false
            var producerError: String?
            var groupStopped = false
        }

        let values = Mutex(Values())

        func complete(_ id: String) {
            values.withLock { $0.completions[id, default: 0] += 1 }
        }

        var snapshot: Values { values.withLock { $0 } }
    }

    private func runDemo(queue: ReliableQueue, logger: Logger) async throws -> Outcome {
        let total = tasks
        let state = State()
        let start = ContinuousClock.now

        // The first batch, all ready at once.
        let firstBatch = min(total, 100)
        try await queue.enqueue(batch: (0..<firstBatch).map { ReliableQueue.NewTask(payload: Array("task \($0)".utf8), id: "t\($0)") })
        state.values.withLock { $0.produced = firstBatch }

        // The crashing consumer: takes a few tasks and stops without releasing them, as a killed process would.
        let crashed = try await queue.dequeue(max: min(5, firstBatch)).deliveries.map(\.id)
        Terminal.writeError("relq demo: a consumer took \(crashed.count) tasks (\(crashed.joined(separator: " "))) and crashed without releasing them\n")

        let consumerServices: [any Service] = (0..<consumers).map { index in
            var consumerLogger = logger
            consumerLogger[metadataKey: "relq.consumer"] = "\(index + 1)"
            return ConsumerService(
                queue: queue,
                configuration: .init(concurrency: concurrency, waitTimeout: .seconds(1), shutdownGracePeriod: .seconds(5)),
                logger: consumerLogger
            ) { delivery in
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
                state.complete(delivery.id)
            }
        }
        let sweeper = Sweeper(queues: [queue], configuration: .init(interval: .milliseconds(250)), logger: logger)
        let group = ServiceGroup(services: consumerServices + [sweeper], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)

        let isTTY = Terminal.isStderrTTY
        let deadline = start + timeout.duration
        var failure: String?
        var lastStats = QueueStats(queue: queue.name)

        try await withThrowingTaskGroup(of: Void.self) { tasksGroup in
            tasksGroup.addTask {
                defer { state.values.withLock { $0.groupStopped = true } }
                try await group.run()
            }
            tasksGroup.addTask {
                // Producers: the rest in batches of 100, every tenth task delayed by a second.
                do {
                    var next = firstBatch
                    while next < total {
                        let end = min(total, next + 100)
                        let batch = (next..<end).map { n in
                            ReliableQueue.NewTask(payload: Array("task \(n)".utf8), id: "t\(n)", delay: n % 10 == 0 ? .seconds(1) : .zero)
                        }
                        try await queue.enqueue(batch: batch)
                        next = end
                        state.values.withLock { $0.produced = end }
                    }
                    state.values.withLock { $0.producerDone = true }
                } catch {
                    state.values.withLock {
                        $0.producerError = "\(error)"
                        $0.producerDone = true
                    }
                }
            }

            var lastLine = ContinuousClock.now - .seconds(2)
            while true {
                try await Task.sleep(for: .milliseconds(100))
                let snapshot = state.snapshot
                if snapshot.groupStopped {
                    failure = "interrupted"
                    break
                }
                if let error = snapshot.producerError {
                    failure = "enqueue failed: \(error)"
                    break
                }
                do {
                    lastStats = try await queue.stats()
                } catch {
                    logger.warning("relq demo: stats failed", metadata: ["relq.error": "\(error)"])
                    continue
                }
                let s = lastStats
                let done = snapshot.completions.count
                let line = "pending \(s.pending)  delayed \(s.delayed)  working \(s.working)  done \(done)/\(total)  recovered \(s.timedOutTotal)"
                if isTTY {
                    Terminal.writeError("\r\u{1B}[2K" + line)
                } else if ContinuousClock.now - lastLine >= .seconds(1) {
                    Terminal.writeError(line + "\n")
                    lastLine = .now
                }
                if snapshot.producerDone && s.releasedTotal >= total && s.pending + s.delayed + s.working == 0 {
                    break
                }
                if ContinuousClock.now > deadline {
                    failure = "timed out after \(timeout)"
                    break
                }
            }
            if isTTY { Terminal.writeError("\n") }
            await group.triggerGracefulShutdown()
            try await tasksGroup.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let completions = state.snapshot.completions
        let finalStats = (try? await queue.stats()) ?? lastStats
        return Outcome(
            completed: completions.count,
            duplicates: completions.values.reduce(0) { $0 + max(0, $1 - 1) },
            lost: total - completions.count,
            recovered: finalStats.timedOutTotal,
            crashed: crashed,
            crashedCompleted: crashed.filter { completions[$0] != nil }.count,
            elapsed: elapsed,
            failure: failure)
    }
}
