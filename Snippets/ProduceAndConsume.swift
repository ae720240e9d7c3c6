// A producer and a hand-written consumer loop: enqueue, dequeue under a lease, release.
// snippet.hide
import Logging
import RelQ

let logger = Logger(label: "example")
// snippet.show
let redis = try RedisClient(url: "redis://127.0.0.1:6379", logger: logger)
let queue = try ReliableQueue(name: "emails", client: redis, logger: logger)

// Producer: bytes, text or JSON; an id makes a retried enqueue idempotent.
try await queue.enqueue(text: "welcome:42", id: "welcome-42")
try await queue.enqueue(text: "reminder:42", delay: .seconds(60))

// Consumer: take a task (waiting up to 5 s), do the work, then release it.
if let delivery = try await queue.dequeueOne(wait: .seconds(5)) {
    do {
        print("sending", delivery.payloadText, "attempt", delivery.attempt)
        try await queue.release(delivery)
    } catch {
        // Give it back with a delay; after its last attempt it goes to the dead-letter queue.
        try await queue.requeue(delivery, delay: .seconds(10), error: "\(error)")
    }
}

// A consumer loop: finish a task and take the next in one call.
var next = try await queue.dequeueOne(wait: .seconds(5))
while let delivery = next {
    print("handling", delivery.id)
    next = try await queue.releaseAndDequeue(delivery).next.deliveries.first
}
