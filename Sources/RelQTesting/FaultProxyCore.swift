#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The shared state and threads behind a ``FaultProxy``. Threads hold the core, never the
/// public handle, so dropping the handle runs its `deinit` and stops everything.
final class FaultProxyCore: Sendable {
    enum Action {
        case none
        case drop
        case reset
    }

    struct State {
        var mode: FaultProxy.Mode
        var stopping = false
        var stopped = false
        var actions: [Int: Action] = [:]
        var nextID = 0
        var runningThreads = 0
        var stats = FaultProxy.Stats()
        var acceptThread: pthread_t?
    }

    let port: Int
    let targetHost: String
    let targetPort: Int
    private let listenFD: Int32
    private let state: Mutex<State>

    /// How often threads re-check the mode, pending actions and stop requests.
    private static let tickMilliseconds: Int32 = 10
    /// Stop reading from a side while this many bytes wait to be written to the other side.
    private static let maxPendingBytes = 1 << 20

    init(targetHost: String, targetPort: Int, mode: FaultProxy.Mode) throws {
        let (fd, port) = try Posix.listen(host: "127.0.0.1")
        self.listenFD = fd
        self.port = port
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.state = Mutex(State(mode: mode))
        do {
            let thread = try PosixThread.start(detached: false) { [self] in acceptLoop() }
            state.withLock { $0.acceptThread = thread }
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    var mode: FaultProxy.Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    var stats: FaultProxy.Stats {
        state.withLock { $0.stats }
    }

    func closeAll(reset: Bool) {
        let ids = state.withLock { state in
            let ids = Array(state.actions.keys)
            for id in ids {
                state.actions[id] = reset ? .reset : .drop
            }
            return ids
        }
        waitUntil(timeout: .seconds(2)) { state in
            ids.allSatisfy { state.actions[$0] == nil }
        }
    }

    func stop() {
        let thread: pthread_t? = state.withLock { state in
            guard !state.stopping else { return nil }
            state.stopping = true
            let thread = state.acceptThread
            state.acceptThread = nil
            return thread
        }
        guard let thread else {
            // Another caller is stopping; wait for it to finish.
            waitUntil(timeout: .seconds(5)) { $0.stopped }
            return
        }
        PosixThread.join(thread)
        Posix.close(listenFD)
        waitUntil(timeout: .seconds(5)) { $0.runningThreads == 0 }
        state.withLock { $0.stopped = true }
    }

    private func waitUntil(timeout: Duration, _ condition: (inout State) -> Bool) {
        let deadline = Posix.deadline(after: timeout)
        while !state.withLock({ condition(&$0) }) && ContinuousClock.now < deadline {
            Posix.sleep(.milliseconds(2))
        }
    }

    // MARK: Accepting

    private func acceptLoop() {
        while !state.withLock({ $0.stopping }) {
            var entry = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Self.tickMilliseconds) > 0 else { continue }
            // accept4 is not exported by the Glibc module.
            let client = accept(listenFD, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            Posix.setNoDelay(client)
            let id: Int? = state.withLock { state in
                state.stats.accepted += 1
                if state.mode == .refuse { return nil }
                let id = state.nextID
                state.nextID += 1
                state.actions[id] = Action.none
                state.stats.live += 1
                state.runningThreads += 1
                return id
            }
            guard let id else {
                Posix.close(client)
                continue
            }
            do {
                try PosixThread.start(detached: true) { [self] in
                    forward(id: id, client: client)
                }
            } catch {
                Posix.close(client)
                finish(id: id)
            }
        }
    }

    private func finish(id: Int) {
        state.withLock { state in
            state.actions[id] = nil
            state.stats.live -= 1
            state.runningThreads -= 1
        }
    }

    // MARK: Forwarding

    /// Bytes read from one side, waiting to be written to the other.
    private struct Chunk {
        var due: ContinuousClock.Instant
        var bytes: [UInt8]
        var offset = 0
    }

    /// One direction of a connection.
    private struct Direction {
        let source: Int32
        let destination: Int32
        var queue: [Chunk] = []
        var pendingBytes = 0
        var sourceEOF = false
        var shutDown = false
        var forwarded = 0
    }

    private enum Outcome {
        case keepGoing
        case closeNormally
        case closeWithReset
    }

    private func forward(id: Int, client: Int32) {
        defer { finish(id: id) }
        let upstream: Int32
        do {
            upstream = try Posix.connect(host: targetHost, port: targetPort, deadline: Posix.deadline(after: .seconds(2)))
        } catch {
            Posix.close(client)
            return
        }
        var up = Direction(source: client, destination: upstream)
        var down = Direction(source: upstream, destination: client)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var outcome = Outcome.keepGoing

        while outcome == .keepGoing {
            let (mode, stopping, action) = state.withLock { state in
                (state.mode, state.stopping, state.actions[id] ?? Action.none)
            }
            if stopping || action == .drop {
                outcome = .closeNormally
                break
            }
            if action == .reset {
                outcome = .closeWithReset
                break
            }
            let holding = mode == .blackhole
            var delay = Duration.zero
            if case .delay(let value) = mode {
                delay = value
            }

            // Poll both sockets.
            let now = ContinuousClock.now
            var timeout = Self.tickMilliseconds
            func events(reading: Direction, writing: Direction) -> Int16 {
                guard !holding else { return 0 }
                var events: Int16 = 0
                if !reading.sourceEOF && reading.pendingBytes < Self.maxPendingBytes {
                    events |= Int16(POLLIN)
                }
                if let head = writing.queue.first {
                    if head.due <= now {
                        events |= Int16(POLLOUT)
                    } else {
                        timeout = min(timeout, max(1, Posix.milliseconds(head.due - now)))
                    }
                }
                return events
            }
            var entries = [
                pollfd(fd: client, events: events(reading: up, writing: down), revents: 0),
                pollfd(fd: upstream, events: events(reading: down, writing: up), revents: 0),
            ]
            let rc = poll(&entries, 2, timeout)
            if rc < 0 {
                if errno == EINTR { continue }
                outcome = .closeNormally
                break
            }
            if rc == 0 { continue }
            let errorMask = Int16(POLLERR) | Int16(POLLNVAL)
            if entries[0].revents & errorMask != 0 || entries[1].revents & errorMask != 0 {
                outcome = .closeNormally
                break
            }
            let readable = Int16(POLLIN) | Int16(POLLHUP)
            if !holding {
                if entries[0].revents & readable != 0 {
                    outcome = read(&up, into: &buffer, delay: delay)
                }
                if outcome == .keepGoing, entries[1].revents & readable != 0 {
                    outcome = read(&down, into: &buffer, delay: delay)
                }
                if outcome == .keepGoing {
                    outcome = flush(&up, now: ContinuousClock.now)
                }
                if outcome == .keepGoing {
                    outcome = flush(&down, now: ContinuousClock.now)
                }
            }
            let (sentUp, sentDown) = (up.forwarded, down.forwarded)
            if sentUp != 0 || sentDown != 0 {
                up.forwarded = 0
                down.forwarded = 0
                state.withLock { state in
                    state.stats.bytesToTarget += sentUp
                    state.stats.bytesToClient += sentDown
                }
            }
            if outcome == .keepGoing {
                // Propagate half-closes; finish once both directions are done.
                for index in 0..<2 {
                    var direction = index == 0 ? up : down
                    if direction.sourceEOF && direction.queue.isEmpty && !direction.shutDown {
                        _ = shutdown(direction.destination, Int32(SHUT_WR))
                        direction.shutDown = true
                    }
                    if index == 0 { up = direction } else { down = direction }
                }
                if up.shutDown && down.shutDown {
                    outcome = .closeNormally
                }
            }
        }

        if outcome == .closeWithReset {
            Posix.setLingerZero(client)
            Posix.setLingerZero(upstream)
        }
        Posix.close(client)
        Posix.close(upstream)
    }

    /// Reads one chunk from `direction.source` and queues it; EOF marks the direction.
    private func read(_ direction: inout Direction, into buffer: inout [UInt8], delay: Duration) -> Outcome {
        let count = buffer.withUnsafeMutableBytes { recv(direction.source, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            direction.queue.append(Chunk(due: ContinuousClock.now.advanced(by: delay), bytes: Array(buffer[0..<count])))
            direction.pendingBytes += count
            return .keepGoing
        }
        if count == 0 {
            direction.sourceEOF = true
            return .keepGoing
        }
        let code = errno
        if code == EAGAIN || code == EWOULDBLOCK || code == EINTR {
            return .keepGoing
        }
        // ECONNRESET and friends: pass the reset on.
        return .closeWithReset
    }

    /// Writes due chunks to `direction.destination` until it would block.
    private func flush(_ direction: inout Direction, now: ContinuousClock.Instant) -> Outcome {
        while var head = direction.queue.first, head.due <= now {
            let remaining = head.bytes.count - head.offset
            let sent = head.bytes.withUnsafeBytes { bytes in
                Posix.sendNoSignal(direction.destination, bytes.baseAddress! + head.offset, remaining)
            }
            if sent < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR {
                    return .keepGoing
                }
                return .closeWithReset
            }
            direction.forwarded += sent
            direction.pendingBytes -= sent
            head.offset += sent
            if head.offset == head.bytes.count {
                direction.queue.removeFirst()
            } else {
                direction.queue[0] = head
                return .keepGoing
            }
        }
        return .keepGoing
    }
}
