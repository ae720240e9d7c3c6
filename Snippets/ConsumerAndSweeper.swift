// A consumer service and a sweeper in one process, stopped gracefully by SIGTERM or SIGINT.
// snippet.hide
import Logging
import RelQ
import ServiceLifecycle

let logger = Logger(label: "worker")
let redis = try RedisClient(url: "redis://127.0.0.1:6379", logger: logger)
let queue = try ReliableQueue(name: "emails", client: redis, logger: logger)
// snippet.show
let consumer = ConsumerService(
    queue: queue,
    configuration: .init(concurrency: 16, retryBackoff: .exponential(initial: .seconds(1), maximum: .seconds(60))),
    logger: logger
) { delivery in
    // Return to release the task; throw to requeue it with backoff.
    print("handling", delivery.id)
}
let sweeper = Sweeper(queues: [queue], configuration: .init(interval: .seconds(1)), logger: logger)
let group = ServiceGroup(services: [consumer, sweeper], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
