import Histogram
import RelQ
import Synchronization

/// The latency floor of the client on this machine: the producer → Redis → waiting consumer path
/// of the latency scenario with plain commands and no scripts. The producer `LPUSH`es its
/// timestamp through the shared client at the same rate; each consumer waits in `BLPOP` on a
/// client of its own (one connection: a blocked `BLPOP` occupies it). Same threads and wake-ups as
/// RelQ's path (the caller's I/O thread, Redis, the consumer's connection thread, the concurrency
/// pool), so RelQ's latency divided by this is what the queue itself adds.
struct LatencyFloor {
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var samples: Int

    static func measure(_ context: BenchContext, consumers: Int, rate: Int, total: Int, skip: Int) async throws -> LatencyFloor {
        let key = "relq-bench-latency-floor-\(UInt32.random(in: 0...UInt32.max))"
        var consumerConfiguration = context.client.configuration
        consumerConfiguration.poolSize = 1
        consumerConfiguration.commandTimeout = .seconds(2)
        let clients = try (0..<consumers).map { _ in try RedisClient(configuration: consumerConfiguration, logger: context.logger) }
        defer { for client in clients { client.shutdown() } }
        let shared = LatencyState()
        context.progress.begin("latency floor: \(total) LPUSH at \(rate)/s to \(consumers) consumers in BLPOP")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask {
                    while !shared.done.load(ordering: .acquiring) {
                        let reply = try await client.send(RedisCommand(["BLPOP", key, "0.2"]))
                        guard let elements = reply.array, elements.count == 2, let text = elements[1].string else { continue }
                        let now = benchNanoseconds()
                        let fields = text.split(separator: " ")
                        guard fields.count == 2, let stamp = UInt64(fields[0]), let sequence = Int(fields[1]) else { continue }
                        if sequence >= skip { shared.histogram.withLock { _ = $0.record(now &- stamp) } }
                        context.progress.operations.add(1, ordering: .relaxed)
                    }
                }
            }
            try await shared.produce(total: total, rate: rate) { index in
                _ = try await context.client.send(RedisCommand(["LPUSH", key, "\(benchNanoseconds()) \(index)"]))
            }
            try await group.waitForAll()
        }
        _ = try await context.client.send(RedisCommand(["UNLINK", key]))
        let snapshot = shared.histogram.withLock { $0 }
        return LatencyFloor(
            p50Milliseconds: Double(snapshot.valueAtPercentile(50)) / 1e6, p99Milliseconds: Double(snapshot.valueAtPercentile(99)) / 1e6,
            samples: Int(snapshot.totalCount))
    }
}
