internal import CHiredis
import Foundation
import Logging
import Synchronization

/// One hiredis connection, owned by one dedicated I/O thread, with automatic pipelining.
///
/// Callers `await` ``send(_:)``; their commands (already RESP-encoded on the caller's thread)
/// go into a queue. The I/O thread takes everything queued, writes it as one batch, then reads
/// the replies in order and resumes each caller as its reply arrives. Commands that arrive while
/// a batch is in flight form the next batch, so concurrency turns into pipelining by itself.
///
/// The connection is also a `TaskExecutor`: a task that prefers it (``RedisClient/ioExecutor()``)
/// runs on the I/O thread between batches, so a sequential caller's command and its resumption
/// need no thread hop at all.
///
/// The `redisContext` pointer never leaves the I/O thread. On an I/O error or timeout every
/// command of the batch still waiting fails with an outcome-unknown error, and the next batch
/// reconnects (with backoff), restoring the timeout, `AUTH`, `SELECT` and `CLIENT SETNAME`.
final class RedisConnection: TaskExecutor, @unchecked Sendable {
    struct Request {
        let command: RedisCommand
        let continuation: UnsafeContinuation<RedisReply, any Error>
    }

    let configuration: RedisConfiguration
    let logger: Logger
    /// Commands sent after every (re)connect, whose replies are ignored (e.g. `SCRIPT LOAD`).
    let warmUp: [RedisCommand]
    /// Whether this connection serves blocking commands (one at a time, longer read timeout).
    let isBlocking: Bool

    /// Requests queued or being processed; for picking the least loaded connection.
    let load = Atomic<Int>(0)
    /// The server's `CLIENT ID` for the current socket (0 while unknown).
    let clientID = Atomic<Int64>(0)
    /// Requests appended since the I/O thread last took the queue; lets it spin without the lock.
    private let queuedHint = Atomic<Int>(0)
    /// How long the I/O thread polls for the next command before it sleeps (yielding the CPU as it
    /// polls). A caller that sends one command at a time sends the next as soon as the concurrency
    /// pool resumes it, which took more than 30 µs on the 2-core VM; had the I/O thread gone to
    /// sleep by then, each command would pay a futex wake-up as well. Measured with
    /// `relq bench --scenario redis` (1 caller vs `redis-benchmark -c 1 -P 1`): SET 0.77× → 1.34–1.38×,
    /// EVALSHA 0.78× → 1.22–1.45× going from 30 µs to 150 µs; 64- and 256-caller figures unchanged.
    private static let spinNanoseconds: UInt64 = 150_000

    // Guarded by `lock`.
    private let lock = ConditionLock()
    private var queue: [Request] = []
    private var isShutdown = false
    private var threadStarted = false
    private var threadSleeping = false
    private var threadExited = false
    /// Jobs of tasks that prefer this connection's I/O thread as their executor.
    private var jobs: [UnownedJob] = []

    /// The I/O thread's id once it runs (0 before): lets a sender on that thread skip the wake-up.
    private let ioThread = Atomic<UInt>(0)

    // Owned by the I/O thread.
    private var context: UnsafeMutablePointer<redisContext>?
    private var backoffNanoseconds: UInt64 = 0
    private var nextConnectAttempt: UInt64 = 0
    private var lastIO: UInt64 = 0

    init(configuration: RedisConfiguration, logger: Logger, warmUp: [RedisCommand], isBlocking: Bool) {
        self.configuration = configuration
        self.logger = logger
        self.warmUp = warmUp
        self.isBlocking = isBlocking
    }

    /// Sends one command and waits for its reply. Error replies are returned, not thrown.
    func send(_ command: RedisCommand) async throws -> RedisReply {
        load.add(1, ordering: .relaxed)
        defer { load.subtract(1, ordering: .relaxed) }
        return try await withUnsafeThrowingContinuation { continuation in
            lock.lock()
            if isShutdown {
                lock.unlock()
                continuation.resume(throwing: ReliableQueueError(.shutdown, "the Redis client was shut down"))
                return
            }
            queue.append(Request(command: command, continuation: continuation))
            announceQueuedWorkAndUnlock()
        }
    }

    /// Whether the caller runs on this connection's I/O thread (a task that prefers its executor).
    var isCurrentThread: Bool {
        ioThread.load(ordering: .acquiring) == UInt(bitPattern: Int(bitPattern: pthread_self()))
    }

    /// Stops the I/O thread after the commands already queued; later sends fail with `shutdown`.
    func shutdown() {
        lock.lock()
        isShutdown = true
        lock.unlock()
        lock.signal()
    }

    /// After appending a request or job under `lock`: counts it, starts the I/O thread on first
    /// use, releases `lock` and wakes the thread if it sleeps. Call with `lock` held.
    private func announceQueuedWorkAndUnlock() {
        queuedHint.add(1, ordering: .releasing)
        let wake = threadSleeping
        if !threadStarted {
            threadStarted = true
            startThread()
        }
        lock.unlock()
        if wake { lock.signal() }
    }

    private func startThread() {
        let thread = Thread { [self] in self.runLoop() }
        thread.name = isBlocking ? "relq-redis-blocking" : "relq-redis-io"
        // Tasks that prefer this connection as their executor run here too: room for their sync calls.
        thread.stackSize = 4 << 20
        thread.start()
    }

    // MARK: - Task executor

    /// Runs a job of a task that prefers this connection (``RedisClient/ioExecutor()``) on the I/O
    /// thread, between batches. After shutdown, jobs go to the global concurrent executor.
    func enqueue(_ job: consuming ExecutorJob) {
        lock.lock()
        if threadExited {
            lock.unlock()
            globalConcurrentExecutor.enqueue(job)
            return
        }
        jobs.append(UnownedJob(job))
        announceQueuedWorkAndUnlock()
    }

    // MARK: - I/O thread

    private func runLoop() {
        // A write to a socket the server closed raises SIGPIPE; blocked on this thread it stays
        // pending and the write fails with EPIPE instead of killing the process.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        ioThread.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .releasing)
        let executor = asUnownedTaskExecutor()
        var batch: [Request] = []
        batch.reserveCapacity(64)
        var ready: [UnownedJob] = []
        while true {
            if queuedHint.load(ordering: .acquiring) == 0 {
                let spinUntil = monotonicNanoseconds() &+ Self.spinNanoseconds
                var spins = 0
                while queuedHint.load(ordering: .acquiring) == 0 {
                    spins &+= 1
                    if spins & 15 == 0 {
                        if monotonicNanoseconds() > spinUntil { break }
                        sched_yield()
                    }
                }
            }
            lock.lock()
            while queue.isEmpty && jobs.isEmpty && !isShutdown {
                threadSleeping = true
                lock.wait()
                threadSleeping = false
            }
            if queue.isEmpty && jobs.isEmpty {  // shut down and drained
                threadExited = true
                lock.unlock()
                break
            }
            swap(&ready, &jobs)
            queuedHint.store(0, ordering: .relaxed)
            lock.unlock()
            // Tasks that prefer this thread run first: their sends join this round's batch.
            for job in ready { job.runSynchronously(on: executor) }
            ready.removeAll(keepingCapacity: true)
            lock.lock()
            swap(&batch, &queue)
            lock.unlock()
            if !batch.isEmpty { process(batch) }
            batch.removeAll(keepingCapacity: true)
        }
        disconnect()
    }

    private func process(_ batch: [Request]) {
        if context != nil && socketLooksClosed() {
            logger.debug("relq: Redis connection closed while idle; reconnecting", metadata: ["relq.endpoint": "\(configuration.endpoint)"])
            disconnect()
        }
        if context == nil, let error = connect() {
            for request in batch { request.continuation.resume(throwing: error) }
            return
        }
        guard let context else { return }

        var blockingExtra: Duration = .zero
        for request in batch {
            if let extra = request.command.blockingTimeout, extra > blockingExtra { blockingExtra = extra }
            request.command.encoded.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    _ = redisAppendFormattedCommand(context, chars.baseAddress, chars.count)
                }
            }
        }
        if blockingExtra > .zero {
            setTimeout(context, configuration.commandTimeout + blockingExtra)
        }
        var index = 0
        while index < batch.count {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
                let error = ioError(context, pending: batch.count - index)
                for request in batch[index...] { request.continuation.resume(throwing: error) }
                disconnect()
                return
            }
            var reply = Self.copyReply(raw!)
            freeReplyObject(raw)
            let expected = batch[index].command.replyCount
            if expected > 1 {
                // A pipelined group (`RedisCommand.pipeline`): its replies come back as one array.
                var replies = [reply]
                replies.reserveCapacity(expected)
                while replies.count < expected {
                    var next: UnsafeMutableRawPointer?
                    guard redisGetReply(context, &next) == REDIS_OK, let next else {
                        let error = ioError(context, pending: batch.count - index)
                        for request in batch[index...] { request.continuation.resume(throwing: error) }
                        disconnect()
                        return
                    }
                    replies.append(Self.copyReply(next))
                    freeReplyObject(next)
                }
                reply = .array(replies)
            }
            batch[index].continuation.resume(returning: reply)
            index += 1
        }
        if blockingExtra > .zero {
            setTimeout(context, configuration.commandTimeout)
        }
        lastIO = monotonicNanoseconds()
    }

    /// True when an idle socket is readable: the server closed it (restart, `CLIENT KILL`, idle
    /// timeout) or sent something unasked. Checked only after 1 ms of idleness, so a loaded
    /// connection pays nothing, and a restart while idle costs the next command nothing.
    private func socketLooksClosed() -> Bool {
        guard let context, monotonicNanoseconds() &- lastIO > 1_000_000 else { return false }
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    private func connect() -> ReliableQueueError? {
        let now = monotonicNanoseconds()
        if nextConnectAttempt > now {
            var wait = timespec(
                tv_sec: Int((nextConnectAttempt - now) / 1_000_000_000),
                tv_nsec: Int((nextConnectAttempt - now) % 1_000_000_000))
            nanosleep(&wait, nil)
        }
        let connectTimeout = Self.timeval(configuration.connectTimeout)
        let candidate: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint.value {
        case .tcp(let host, let port):
            candidate = redisConnectWithTimeout(host, Int32(port), connectTimeout)
        case .unixSocket(let path):
            candidate = redisConnectUnixWithTimeout(path, connectTimeout)
        }
        guard let candidate, candidate.pointee.err == 0 else {
            let reason = candidate.map { Self.errorText($0) } ?? "out of memory"
            if let candidate { redisFree(candidate) }
            scheduleReconnect()
            return ReliableQueueError(.connectionFailed, "could not connect to Redis at \(configuration.endpoint): \(reason)")
        }
        setTimeout(candidate, configuration.commandTimeout)
        _ = redisEnableKeepAlive(candidate)

        if let error = handshake(candidate) {
            redisFree(candidate)
            scheduleReconnect()
            return error
        }
        context = candidate
        backoffNanoseconds = 0
        nextConnectAttempt = 0
        lastIO = monotonicNanoseconds()
        logger.debug("relq: connected to Redis", metadata: ["relq.endpoint": "\(configuration.endpoint)", "relq.client.id": "\(clientID.load(ordering: .relaxed))"])
        return nil
    }

    /// The commands of a handshake.
    private enum HandshakeStep { case auth, select, setName, clientID, warmUp }

    /// `AUTH`, `SELECT`, `CLIENT SETNAME` and `CLIENT ID` pipelined, then the warm-up commands.
    private func handshake(_ candidate: UnsafeMutablePointer<redisContext>) -> ReliableQueueError? {
        var steps: [(HandshakeStep, RedisCommand)] = []
        if let password = configuration.password {
            if let username = configuration.username {
                steps.append((.auth, RedisCommand(["AUTH", username, password])))
            } else {
                steps.append((.auth, RedisCommand(["AUTH", password])))
            }
        }
        if configuration.database != 0 {
            steps.append((.select, RedisCommand(["SELECT", String(configuration.database)])))
        }
        if let name = configuration.clientName {
            steps.append((.setName, RedisCommand(["CLIENT", "SETNAME", name])))
        }
        steps.append((.clientID, RedisCommand(["CLIENT", "ID"])))
        for command in warmUp { steps.append((.warmUp, command)) }

        // Two round trips: the setup first, the warm-up only once it succeeded. Redis drops an
        // unauthenticated connection that sends a bulk argument over 16 KiB (a script), so a
        // warm-up pipelined behind a refused AUTH would hide the refusal behind a reset.
        if let failure = exchange(candidate, steps.filter { $0.0 != .warmUp }) { return failure }
        return exchange(candidate, steps.filter { $0.0 == .warmUp })
    }

    /// Sends `steps` pipelined and reads their replies; the first failure, if any.
    private func exchange(_ candidate: UnsafeMutablePointer<redisContext>, _ steps: [(HandshakeStep, RedisCommand)]) -> ReliableQueueError? {
        for (_, command) in steps {
            command.encoded.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    _ = redisAppendFormattedCommand(candidate, chars.baseAddress, chars.count)
                }
            }
        }
        var failure: ReliableQueueError?
        for (step, _) in steps {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(candidate, &raw) == REDIS_OK, let raw else {
                return failure ?? ReliableQueueError(
                    .connectionFailed,
                    "could not connect to Redis at \(configuration.endpoint): the connection broke during the handshake (\(Self.errorText(candidate)))")
            }
            let reply = Self.copyReply(raw)
            freeReplyObject(raw)
            guard failure == nil else { continue }
            switch (step, reply) {
            case (.auth, .error(let message)):
                let user = configuration.username.map { "user '\($0)'" } ?? "the default user"
                failure = ReliableQueueError(.authenticationFailed, "Redis refused AUTH for \(user): \(message)")
            case (.select, .error(let message)), (.setName, .error(let message)):
                failure = ReliableQueueError(.serverError, message)
            case (.clientID, .integer(let id)):
                clientID.store(id, ordering: .relaxed)
            case (.clientID, .error(let message)) where message.hasPrefix("NOAUTH"):
                failure = ReliableQueueError(.authenticationFailed, "Redis requires a password (set one in the URL or configuration): \(message)")
            default:
                break  // warm-up replies (e.g. SCRIPT LOAD during LOADING) are best effort
            }
        }
        return failure
    }

    private func scheduleReconnect() {
        let limit = configuration.reconnectBackoffLimit.nanosecondsClamped
        backoffNanoseconds = backoffNanoseconds == 0 ? 20_000_000 : min(backoffNanoseconds * 2, limit)
        nextConnectAttempt = monotonicNanoseconds() + backoffNanoseconds
    }

    private func disconnect() {
        if let context {
            redisFree(context)
            self.context = nil
        }
        clientID.store(0, ordering: .relaxed)
    }

    private func ioError(_ context: UnsafeMutablePointer<redisContext>, pending: Int) -> ReliableQueueError {
        let savedErrno = errno
        let text = Self.errorText(context)
        let commands = pending == 1 ? "the command" : "\(pending) commands"
        if context.pointee.err == REDIS_ERR_IO && (savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || text.contains("temporarily unavailable")) {
            return ReliableQueueError(
                .timeout,
                "no reply from Redis at \(configuration.endpoint) within \(configuration.commandTimeout); the outcome of \(commands) in flight is unknown")
        }
        if context.pointee.err == REDIS_ERR_PROTOCOL {
            return ReliableQueueError(.protocolError, "invalid reply from Redis at \(configuration.endpoint) (\(text)); the outcome of \(commands) in flight is unknown")
        }
        return ReliableQueueError(
            .connectionLost,
            "the connection to Redis at \(configuration.endpoint) broke (\(text)); the outcome of \(commands) in flight is unknown")
    }

    private func setTimeout(_ context: UnsafeMutablePointer<redisContext>, _ duration: Duration) {
        _ = redisSetTimeout(context, Self.timeval(duration))
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let nanoseconds = max(duration.nanosecondsClamped, 1_000_000)
        return Glibc.timeval(tv_sec: Int(nanoseconds / 1_000_000_000), tv_usec: Int((nanoseconds % 1_000_000_000) / 1000))
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Copies a hiredis reply tree into Swift values (the caller frees the C reply right after).
    static func copyReply(_ raw: UnsafeMutableRawPointer) -> RedisReply {
        let reply = raw.assumingMemoryBound(to: redisReply.self).pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .bulk(Array(UnsafeRawBufferPointer(start: reply.str, count: reply.len)))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(reply.elements)
            for index in 0..<reply.elements {
                if let element = reply.element[index] {
                    elements.append(copyReply(UnsafeMutableRawPointer(element)))
                } else {
                    elements.append(.null)
                }
            }
            return .array(elements)
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
        default:
            return .null
        }
    }
}
