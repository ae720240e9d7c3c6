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
