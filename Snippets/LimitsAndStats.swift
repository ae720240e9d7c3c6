// Shared limits, stats for dashboards and the dead-letter queue.
// snippet.hide
import Logging
import RelQ

let logger = Logger(label: "admin")
let redis = try RedisClient(url: "redis://127.0.0.1:6379", logger: logger)
let queue = try ReliableQueue(name: "emails", client: redis, logger: logger)
// snippet.show
// At most 100 tasks in work across all consumers, and 500 dequeues per second.
try await queue.setLimits(QueueLimits(workingLimit: 100, rateLimit: 500, rateWindow: .seconds(1)))

let stats = try await queue.stats()
print("pending \(stats.pending), working \(stats.working), dead \(stats.dead)")

for letter in try await queue.deadLetters(limit: 10).entries {
    print(letter.id, letter.attempts, letter.lastError ?? "")
}
try await queue.retryAllDeadLetters()
