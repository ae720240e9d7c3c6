import Benchmark
import Foundation
import Logging
import RelQ
import RelQTesting
import Synchronization

// Client-side costs of RelQ, on the public API only: allocations per operation (and CPU
// instructions where the machine exposes performance counters: set RELQ_BENCH_INSTRUCTIONS=1).
// Round trips run against a throwaway redis-server started in `setup:` and stopped in `teardown:`.
// See ../../README.md for how to run them and update the thresholds. Benchmark names use no spaces
// or brackets: `thresholds check` looks the files up by the raw name while `thresholds update`
// writes them under a shell-safe one (package-benchmark 1.38.1).

/// The task `Queue_cycle_enqueue_releaseAndDequeue` holds between samples.
let heldDelivery = Mutex<Delivery?>(nil)

/// What the round-trip benchmarks share: the server and a client, set up once per benchmark.
final class Fixture: Sendable {
    let server: RedisServer
    let client: RedisClient
    let queue: ReliableQueue

    init(server: RedisServer, client: RedisClient, queue: ReliableQueue) {
        self.server = server
        self.client = client
        self.queue = queue
    }

    static let current = Mutex<Fixture?>(nil)

    static func start() async throws {
        let server = try await RedisServer.start()
        var logger = Logger(label: "relq.benchmarks")
        logger.logLevel = .warning
        let client = try RedisClient(url: server.url, logger: logger)
        let queue = try ReliableQueue(name: "relq-benchmarks", client: client, logger: logger)
        _ = try await client.send("PING")  // connect and load the scripts outside the measurement
        current.withLock { $0 = Fixture(server: server, client: client, queue: queue) }
    }

    static func stop() {
        let fixture = current.withLock { fixture in
            defer { fixture = nil }
            return fixture
        }
        fixture?.client.shutdown()
        fixture?.server.stop()
    }

    static var shared: Fixture {
        guard let fixture = current.withLock({ $0 }) else { fatalError("the benchmark fixture was not set up") }
        return fixture
    }
}

let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
let sha = String(repeating: "a", count: 40)
let keys = ["pending", "delayed", "tasks", "state", "meta", "signal"].map { "relq:{q}:\($0)" }

let benchmarks: @Sendable () -> Void = {
    var metrics: [BenchmarkMetric] = [.mallocCountTotal]
    // Tolerances of `benchmark thresholds check`: p90 may grow by 10 % and 4 allocations.
    var thresholds: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(relative: [.p90: 10.0], absolute: [.p90: 4])
    ]
    // Hardware counters are missing on many VMs (`perf stat -e instructions true` says "not supported").
    if ProcessInfo.processInfo.environment["RELQ_BENCH_INSTRUCTIONS"] != nil {
        metrics.append(.instructions)
        thresholds[.instructions] = .init(relative: [.p90: 10.0])
    }
    Benchmark.defaultConfiguration = .init(
        metrics: metrics, warmupIterations: 10, scalingFactor: .one, maxDuration: .seconds(2), maxIterations: 10_000,
        thresholds: thresholds)

    // Argument encoding of an enqueue-sized EVALSHA (6 keys, 1 task, 100-byte payload).
    // The argument vector is built once; only RedisCommand's encoding is measured.
    Benchmark("RedisCommand_EVALSHA_payload100_text") { benchmark in
        let arguments = ["EVALSHA", sha, "6"] + keys + ["1", "", String(decoding: payload, as: UTF8.self), "0", "", ""]
        for _ in benchmark.scaledIterations {
            blackHole(RedisCommand(arguments))
        }
    }

    Benchmark("RedisCommand_EVALSHA_payload100_bytes") { benchmark in
        let arguments = (["EVALSHA", sha, "6"] + keys + ["1", ""]).map { Array($0.utf8) } + [payload] + ["0", "", ""].map { Array($0.utf8) }
        for _ in benchmark.scaledIterations {
            blackHole(RedisCommand(bytes: arguments))
        }
    }

    // One round trip of a small command, sequential (the latency-bound case).
    Benchmark(
        "RoundTrip_SET",
        configuration: .init(setup: { try await Fixture.start() }, teardown: { Fixture.stop() })
    ) { benchmark in
        let client = Fixture.shared.client
        for _ in benchmark.scaledIterations {
            blackHole(try await client.send("SET", "relq-benchmarks:key", "value"))
        }
    }

    // One task through the queue: enqueue, dequeue, release (three script calls).
    Benchmark(
        "Queue_cycle_enqueue_dequeue_release",
        configuration: .init(setup: { try await Fixture.start() }, teardown: { Fixture.stop() })
    ) { benchmark in
        let queue = Fixture.shared.queue
        for _ in benchmark.scaledIterations {
            try await queue.enqueue(payload)
            guard let delivery = try await queue.dequeueOne() else { fatalError("no task to dequeue") }
            try await queue.release(delivery)
        }
    }

    // The consumer-loop form: enqueue, then release the held task and take the next in one call
    // (two script calls per task). The held task carries over between samples (the first sample
    // also dequeues one), so a sample is exactly the loop's work.
    Benchmark(
        "Queue_cycle_enqueue_releaseAndDequeue",
        configuration: .init(setup: { try await Fixture.start() }, teardown: { Fixture.stop() })
    ) { benchmark in
        let queue = Fixture.shared.queue
        for _ in benchmark.scaledIterations {
            try await queue.enqueue(payload)
            let next: Delivery?
            if let current = heldDelivery.withLock({ $0 }) {
                next = try await queue.releaseAndDequeue(current).next.deliveries.first
            } else {
                next = try await queue.dequeueOne()
            }
            guard let next else { fatalError("no task to dequeue") }
            heldDelivery.withLock { $0 = next }
        }
    }

    Benchmark(
        "Queue_enqueue",
        configuration: .init(setup: { try await Fixture.start() }, teardown: { Fixture.stop() })
    ) { benchmark in
        let queue = Fixture.shared.queue
        for _ in benchmark.scaledIterations {
            blackHole(try await queue.enqueue(payload))
        }
    }
}
