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

    /// A class, not a struct: arrays of a generic struct are copied and destroyed through value
    /// witnesses that look the struct's metadata up on every call (~7 % of the client's CPU on
    /// the single-task path by `perf`); a class reference is only retained and released.
    private final class Waiter {
        let item: Item
        /// Resumed with this caller's output, or with nil: "you send the next batch".
        let continuation: CheckedContinuation<Output?, any Error>

        init(item: Item, continuation: CheckedContinuation<Output?, any Error>) {
            self.item = item
            self.continuation = continuation
        }
    }

    private struct State {
        var sending = false
        var waiters: [Waiter] = []
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
                    state.waiters.append(Waiter(item: item, continuation: continuation))
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
        let riders = state.withLock { state -> [Waiter] in
            let taken = min(state.waiters.count, maxBatch - 1)
            if taken == 0 { return [] }
            defer { state.waiters.removeFirst(taken) }
            return Array(state.waiters.prefix(taken))
        }
        var batch: [Item] = []
        batch.reserveCapacity(1 + riders.count)
        batch.append(own)
        for rider in riders { batch.append(rider.item) }
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
            case .success(let outputs): rider.continuation.resume(returning: outputs[index + 1])
            case .failure(let error): rider.continuation.resume(throwing: error)
            }
        }
        let next = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.sending = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume(returning: nil)
        return try result.get()[0]
    }
}
