import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Tasks that prefer a connection's I/O thread (`RedisClient.ioExecutor()`) run and send there.
@Suite("I/O executor")
struct IOExecutorTests {
    @Test func sequentialCallsOnTheIOExecutorStayCorrect() async throws {
        let server = try await SharedRedis.server()
        try await withClient(server) { client in
            let key = uniqueName()
            let total = try await withTaskExecutorPreference(client.ioExecutor()) {
                var sum: Int64 = 0
                for index in 1...1000 {
                    let reply = try await client.send("INCRBY", key, String(index))
                    sum = reply.int ?? -1
                }
                return sum
            }
            #expect(total == 500_500, "1,000 sequential INCRBYs from the I/O executor")
            // A queue round trip from the executor works too.
            let queue = try makeQueue(client)
            let delivery = try await withTaskExecutorPreference(client.ioExecutor()) { () async throws -> Delivery? in
                try await queue.enqueue(text: "on the I/O thread", id: "io-1")
                return try await queue.dequeueOne()
            }
            #expect(delivery?.payloadText == "on the I/O thread")
            if let delivery { try await queue.release(delivery) }
            _ = try await client.send("DEL", key)
            try await queue.deleteQueue()
        }
    }

    /// A consumer on its own wait executor blocks on that connection and is resumed on its thread.
    @Test func aWaitingConsumerOnItsWaitExecutorWakesOnItsOwnThread() async throws {
        try await withSharedQueue { queue, _ in
            let executor = queue.client.waitExecutor()
            let connection = try #require(executor as? RedisConnection)
            let started = ContinuousClock.now
            let consumer = Task(executorPreference: executor) { () async throws -> (Delivery?, Bool, Bool) in
                let before = connection.isCurrentThread
                let delivery = try await queue.dequeueOne(wait: .seconds(5))
                return (delivery, before, connection.isCurrentThread)
            }
            try await Task.sleep(for: .milliseconds(150))  // the consumer is blocked in BLPOP by now
            try await queue.enqueue(text: "wake up", id: "w-1")
            let (delivery, ranThereBefore, ranThereAfter) = try await consumer.value
            #expect(delivery?.id == "w-1" && delivery?.payloadText == "wake up")
            #expect(ranThereBefore && ranThereAfter, "the consumer runs on the wait connection's thread, before and after the wake-up")
            #expect(ContinuousClock.now - started < .seconds(3), "woken by the enqueue, not by the 5 s timeout")
            #expect(queue.client.pooledBlockingConnections == 0, "the wait used the executor's own connection")
            if let delivery { try await queue.release(delivery) }
            // A second wait on the same executor works the same way (the connection is reused).
            let again = Task(executorPreference: executor) { try await queue.dequeueOne(wait: .milliseconds(50)) }
            #expect(try await again.value == nil)
        }
    }

    @Test func aTaskPreferringTheExecutorStillFinishesAfterShutdown() async throws {
        let server = try await SharedRedis.server()
        let configuration = try RedisConfiguration(url: server.url)
        let client = try RedisClient(configuration: configuration, logger: testLogger)
        let executor = client.ioExecutor()
        _ = try await withTaskExecutorPreference(executor) { try await client.send("PING") }
        client.shutdown()
        // The connection's thread is gone: jobs of a task preferring it go to the global executor.
        let value = await withTaskExecutorPreference(executor) { () async -> Int in
            await Task.yield()
            return 42
        }
        #expect(value == 42)
        await #expect(throws: ReliableQueueError.self) {
            _ = try await withTaskExecutorPreference(executor) { try await client.send("PING") }
        }
    }
}
