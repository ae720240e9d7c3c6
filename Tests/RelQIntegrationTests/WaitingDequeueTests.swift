import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// A waiting dequeue: BLPOP on the signal with the dequeue script pipelined behind it.
@Suite("Waiting dequeue", .serialized)
struct WaitingDequeueTests {
    @Test func wakesWithTheTaskInOneRoundTrip() async throws {
        try await withSharedQueue { queue, _ in
            let waiter = Task { try await queue.dequeueOne(wait: .seconds(5)) }
            try await Task.sleep(for: .milliseconds(100))
            let enqueuedAt = ContinuousClock.now
            try await queue.enqueue(text: "hello", id: "w-1")
            let delivery = try await waiter.value
            #expect(delivery?.id == "w-1" && delivery?.payloadText == "hello")
            #expect(ContinuousClock.now - enqueuedAt < .seconds(2), "the enqueue must wake the waiter")
            if let delivery { try await queue.release(delivery) }
        }
    }

    @Test func stillDeliversWhenTheScriptCacheIsFlushedDuringTheWait() async throws {
        try await RedisServer.withServer { server in
            try await withClient(server) { client in
                let queue = try makeQueue(client)
                let waiter = Task { try await queue.dequeueOne(wait: .seconds(5)) }
                try await Task.sleep(for: .milliseconds(100))
                _ = try server.command("SCRIPT", "FLUSH")
                try await queue.enqueue(text: "after flush", id: "f-1")
                let delivery = try await waiter.value
                #expect(delivery?.id == "f-1", "the pipelined dequeue got NOSCRIPT; the next one must reload and deliver")
                if let delivery { try await queue.release(delivery) }
                #expect(try await queue.stats().releasedTotal == 1)
            }
        }
    }

    @Test func cancellingAWaitReturnsPromptlyAndLeasesNothing() async throws {
        try await withSharedQueue { queue, _ in
            let started = ContinuousClock.now
            let waiter = Task { try await queue.dequeueOne(wait: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(200))
            waiter.cancel()
            let outcome = await waiter.result
            #expect(ContinuousClock.now - started < .seconds(5), "CLIENT UNBLOCK must end the wait early")
            switch outcome {
            case .success(let delivery): #expect(delivery == nil)
            case .failure(let error): #expect(error is CancellationError, "\(error)")
            }
            let stats = try await queue.stats()
            #expect(stats.working == 0 && stats.dequeuedTotal == 0)
        }
    }
}
