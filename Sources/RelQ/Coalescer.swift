import Synchronization

/// Merges concurrent single-task calls of one kind (enqueue, dequeue, release,
/// release-and-dequeue) into batch script calls.
///
/// A caller that finds no call in flight sends its item at once, so a lone caller pays nothing.
/// Callers that arrive while a call is in flight wait; when it returns, the first of them becomes
/// the next sender and takes everyone waiting (up to ``maxBatch`` items) into one call. Each caller
/// waits for at most the call in flight and its own, Redis runs one script per batch instead of one
/// per task, and arrival order is kept. If a batch call fails, every caller in it gets the error.
final class Coalescer<Item: Sendable, Output: Sendable>: Sendable {
    /// Sends a batch; returns one output per item, in order.
    typealias Send = @Sendable ([Item]) async throws -> [Output]

    /// The callers waiting for the next batch: items and continuations in two arrays, in arrival
    /// order (a continuation is resumed with the caller's output, or with nil: "you send the next
    /// batch"). Not an array of a generic waiter type: copying and destroying those went through
    /// value witnesses that looked the waiter's metadata up every time (~7 % of the client's CPU
    /// on the single-task path by `perf`).
    private struct State {
        var sending = false
        var items: [Item] = []
        var continuations: [CheckedContinuation<Output?, any Error>] = []
    }

    private let state = Mutex(State())
    /// The most items in one call.
    let maxBatch: Int
    private let send: Send

    init(maxBatch: Int, send: @escaping Send) {
        self.maxBatch = maxBatch
        self.send = send
    }

    /// Sends `item`, alone or together with other callers' items, and returns its output.
    func submit(_ item: Item) async throws -> Output {
        let leads = state.withLock { state -> Bool in
            if state.sending { return false }
            state.sending = true
            return true
        }
        if leads { return try await sendAsLeader(item) }
        let output: Output? = try await withCheckedThrowingContinuation { continuation in
            let leadsNow = state.withLock { state -> Bool in
                if state.sending {
                    state.items.append(item)
                    state.continuations.append(continuation)
                    return false
                }
                state.sending = true
                return true
            }
            if leadsNow { continuation.resume(returning: nil) }
        }
        if let output { return output }
        return try await sendAsLeader(item)
    }

    /// Sends `own` plus the waiters that fit, hands the outputs out, then passes the lead on.
    private func sendAsLeader(_ own: Item) async throws -> Output {
        // One array for the batch and one for the riders; the queues keep their capacity.
        let (batch, riders) = state.withLock { state -> ([Item], [CheckedContinuation<Output?, any Error>]) in
            let taken = min(state.items.count, maxBatch - 1)
            var batch: [Item] = []
            batch.reserveCapacity(1 + taken)
            batch.append(own)
            if taken == 0 { return (batch, []) }
            batch.append(contentsOf: state.items[..<taken])
            let riders = Array(state.continuations[..<taken])
            if taken == state.items.count {
                state.items.removeAll(keepingCapacity: true)
                state.continuations.removeAll(keepingCapacity: true)
            } else {
                state.items.removeFirst(taken)
                state.continuations.removeFirst(taken)
            }
            return (batch, riders)
        }
        let result: Result<[Output], any Error>
        do {
            let outputs = try await send(batch)
            guard outputs.count == batch.count else {
                throw ReliableQueueError(.scriptFailed, "a batch of \(batch.count) returned \(outputs.count) results")
            }
            result = .success(outputs)
        } catch {
            result = .failure(error)
        }
        for (index, rider) in riders.enumerated() {
            switch result {
            case .success(let outputs): rider.resume(returning: outputs[index + 1])
            case .failure(let error): rider.resume(throwing: error)
            }
        }
        let next = state.withLock { state -> CheckedContinuation<Output?, any Error>? in
            if state.items.isEmpty {
                state.sending = false
                return nil
            }
            // The next leader sends its own item: it leaves the queue.
            state.items.removeFirst()
            return state.continuations.removeFirst()
        }
        next?.resume(returning: nil)
        return try result.get()[0]
    }
}
