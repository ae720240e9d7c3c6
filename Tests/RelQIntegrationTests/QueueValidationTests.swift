import Foundation
import RelQTesting
import Testing

@testable import RelQ

/// Bad input is refused in Swift before any Redis call: the client points at a closed port, so a
/// call that reached the network would fail with connectionFailed instead.
@Suite("Queue input validation")
struct QueueValidationTests {
    @Test func badInputIsRejectedBeforeAnyRedisCall() async throws {
        let port = try await closedPort()
        let client = try RedisClient(url: "redis://127.0.0.1:\(port)", logger: testLogger)
        defer { client.shutdown() }

        for name in ["a}x", "{}", "", String(repeating: "n", count: 129), "a b", "q:1"] {
            #expect(throws: ReliableQueueError.self, "\(name)") { _ = try ReliableQueue(name: name, client: client, logger: testLogger) }
        }
        #expect(throws: ReliableQueueError.self) { _ = try makeQueue(client, configuration: .init(leaseTimeout: .zero)) }
        #expect(throws: ReliableQueueError.self) { _ = try makeQueue(client, configuration: .init(maxAttempts: 0)) }

        let queue = try makeQueue(client, configuration: .init(maxPayloadBytes: 16))
        let cases: [(String, () async throws -> Void)] = [
            ("id with a space", { try await queue.enqueue(text: "x", id: "bad id") }),
            ("empty id", { try await queue.enqueue(text: "x", id: "") }),
            ("id with braces", { try await queue.enqueue(text: "x", id: "{x}") }),
            ("id of 129", { try await queue.enqueue(text: "x", id: String(repeating: "i", count: 129)) }),
            ("payload over max", { try await queue.enqueue([UInt8](repeating: 0, count: 17)) }),
            ("negative delay", { try await queue.enqueue(text: "x", delay: .milliseconds(-1)) }),
            ("absurd delay", { try await queue.enqueue(text: "x", delay: .seconds(400 * 86_400)) }),
            ("zero task lease", { try await queue.enqueue([1], leaseTimeout: .zero) }),
            ("task maxAttempts 0", { try await queue.enqueue([1], maxAttempts: 0) }),
            ("empty batch", { try await queue.enqueue(batch: []) }),
            ("bad id late in a batch", { try await queue.enqueue(batch: [.init(payload: [1], id: "ok"), .init(payload: [2], id: "not ok")]) }),
            ("dequeue max 0", { _ = try await queue.dequeue(max: 0) }),
            ("dequeue max 1001", { _ = try await queue.dequeue(max: 1001) }),
            ("negative wait", { _ = try await queue.dequeue(wait: .seconds(-1)) }),
            ("release bad id", { try await queue.release(id: "bad id", token: 1) }),
            ("requeue negative delay", { _ = try await queue.requeue(id: "ok", token: 1, delay: .seconds(-1)) }),
            ("requeue absurd delay", { _ = try await queue.requeue(id: "ok", token: 1, delay: .seconds(1_000 * 86_400)) }),
            ("extend by zero", { try await queue.extendLease(id: "ok", token: 1, by: .zero) }),
            ("extend bad id", { try await queue.extendLease(id: "", token: 1) }),
            ("task bad id", { _ = try await queue.task(id: "a}b") }),
            ("remove bad id", { try await queue.remove(id: "{}") }),
            ("working limit 0", { try await queue.setLimits(QueueLimits(workingLimit: 0)) }),
            ("rate limit -1", { try await queue.setLimits(QueueLimits(rateLimit: -1)) }),
            ("rate window 0", { try await queue.setLimits(QueueLimits(rateLimit: 5, rateWindow: .zero)) }),
            ("dead letters limit 0", { _ = try await queue.deadLetters(limit: 0) }),
            ("dead letters negative offset", { _ = try await queue.deadLetters(offset: -1) }),
            ("peek limit 1001", { _ = try await queue.peek(limit: 1001) }),
            ("retry 1001 ids", { try await queue.retryDeadLetters(ids: (0..<1001).map { "i\($0)" }) }),
            ("purge bad id", { try await queue.purgeDeadLetters(ids: ["bad id"]) }),
            ("sweep limit 0", { _ = try await queue.sweep(limit: 0) }),
            ("sweep negative retry delay", { _ = try await queue.sweep(retryDelay: .seconds(-1)) }),
        ]
        for (name, body) in cases {
            do {
                try await body()
                Issue.record("\(name): accepted")
            } catch let error as ReliableQueueError {
                #expect(error.code == .invalidArgument, "\(name): \(error)")
            }
        }
        // The same queue does reach for the network with valid input.
        await expectError(.connectionFailed) { try await queue.enqueue([UInt8](repeating: 0, count: 16), id: "ok") }
    }
}
