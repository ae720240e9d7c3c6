import Synchronization
import Testing

@testable import RelQ

/// The coalescer without Redis: a fake send that records its batches.
@Suite("Coalescer")
struct CoalescerTests {
    @Test func everyCallerGetsItsOwnOutputAndBatchesRespectMaxBatch() async throws {
        let batches = Mutex<[[Int]]>([])
        let coalescer = Coalescer<Int, Int>(maxBatch: 3) { items in
            batches.withLock { $0.append(items) }
            try await Task.sleep(for: .milliseconds(2))  // callers pile up meanwhile
            return items.map { $0 * 10 }
        }
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for item in 0..<40 { group.addTask { (item, try await coalescer.submit(item)) } }
            var all: [(Int, Int)] = []
            for try await pair in group { all.append(pair) }
            return all
        }
        #expect(outputs.count == 40 && outputs.allSatisfy { $0.1 == $0.0 * 10 })
        let sent = batches.withLock { $0 }
        #expect(sent.allSatisfy { $0.count <= 3 }, "batch sizes \(sent.map(\.count))")
        #expect(sent.flatMap { $0 }.sorted() == Array(0..<40), "each item sent exactly once")
        #expect(sent.count < 40, "some calls were merged")
    }

    @Test func aFailedBatchFailsEveryCallerInIt() async throws {
        struct Boom: Error {}
        let calls = Atomic<Int>(0)
        let coalescer = Coalescer<Int, Int>(maxBatch: 100) { items in
            let call = calls.add(1, ordering: .relaxed).newValue
            try await Task.sleep(for: .milliseconds(5))
            if call == 2 { throw Boom() }  // the second call: everyone who waited behind the first
            return items
        }
        let results = await withTaskGroup(of: Bool.self) { group in
            for item in 0..<20 {
                group.addTask {
                    do { return try await coalescer.submit(item) == item } catch { return false }
                }
            }
            var ok = 0
            for await succeeded in group where succeeded { ok += 1 }
            return ok
        }
        // The first call (its leader alone) succeeded; the failed second call took some callers
        // with it; later calls succeeded again.
        #expect(results >= 1 && results < 20, "\(results) of 20 succeeded")
        #expect(calls.load(ordering: .relaxed) >= 2)
    }
}
