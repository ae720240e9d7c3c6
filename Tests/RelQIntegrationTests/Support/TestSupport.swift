import Foundation
import Synchronization
import Logging
import RelQTesting
import Testing

@testable import RelQ

/// The logger handed to the library in tests.
let testLogger = Logger(label: "relq.integration-tests")

/// One `redis-server` shared by every non-fault suite of this test process, started lazily on first
/// use. Its watchdog ends it (and removes its directory) when the test process exits.
enum SharedRedis {
    private static let startup = Task<RedisServer, any Error> { try await RedisServer.start() }

    /// The shared server (started on first call).
    static func server() async throws -> RedisServer { try await startup.value }
}

/// A queue name unique to this test run: `t-<function>-<random>`, sanitized to `[A-Za-z0-9._-]`.
func uniqueName(_ base: String = #function) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    let cleaned = String(base.map { allowed.contains($0) ? $0 : "-" }.prefix(80))
    return "t-\(cleaned)-\(UInt32.random(in: 0...UInt32.max))"
}

/// A client for `server`, shut down when `body` returns or throws.
func withClient<T>(
    _ server: RedisServer,
    url: String? = nil,
    _ configure: (inout RedisConfiguration) -> Void = { _ in },
    _ body: (RedisClient) async throws -> T
) async throws -> T {
    var configuration = try RedisConfiguration(url: url ?? server.url)
    configure(&configuration)
    let client = try RedisClient(configuration: configuration, logger: testLogger)
    defer { client.shutdown() }
    return try await body(client)
}

/// A queue with a unique name on `client`.
func makeQueue(
    _ client: RedisClient, name: String = uniqueName(), configuration: ReliableQueue.Configuration = .init()
) throws -> ReliableQueue {
    try ReliableQueue(name: name, client: client, configuration: configuration, logger: testLogger)
}

/// Shared server + client + queue with a unique name, in one call.
func withSharedQueue<T>(
    _ base: String = #function,
    configuration: ReliableQueue.Configuration = .init(),
    clientName: String? = nil,
    _ body: (ReliableQueue, RedisServer) async throws -> T
) async throws -> T {
    let server = try await SharedRedis.server()
    return try await withClient(server, { $0.clientName = clientName }) { client in
        let queue = try makeQueue(client, name: uniqueName(base), configuration: configuration)
        let result = try await body(queue, server)
        try? await queue.deleteQueue()
        return result
    }
}

/// Polls `condition` until it is true or `timeout` passes (a failed poll counts as false).
/// Records an issue on timeout and returns whether the condition became true.
@discardableResult
func eventually(
    timeout: Duration = .seconds(5),
    every interval: Duration = .milliseconds(10),
    _ what: String = "condition",
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while true {
        do {
            if try await condition() { return true }
        } catch {
            lastError = error
        }
        if ContinuousClock.now >= deadline {
            Issue.record("\(what) not met within \(timeout)\(lastError.map { "; last error: \($0)" } ?? "")", sourceLocation: sourceLocation)
            return false
        }
        try? await Task.sleep(for: interval)
    }
}

/// Runs `body`, expecting a ``ReliableQueueError`` with `code`; returns it.
@discardableResult
func expectError(
    _ code: ReliableQueueError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> ReliableQueueError? {
    do {
        try await body()
        Issue.record("expected ReliableQueueError(\(code)), but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as ReliableQueueError {
        #expect(error.code == code, "expected \(code), got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected ReliableQueueError(\(code)), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// How long `body` took.
func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let start = ContinuousClock.now
    let value = try await body()
    return (value, ContinuousClock.now - start)
}

/// `calls` of a command in `INFO commandstats` (e.g. `script|load`), 0 when never called.
func commandCalls(_ server: RedisServer, _ command: String) throws -> Int {
    let info = try server.command("INFO", "commandstats").string ?? ""
    for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_\(command):") {
        for field in line.split(separator: ":", maxSplits: 1)[1].split(separator: ",") where field.hasPrefix("calls=") {
            return Int(field.dropFirst("calls=".count)) ?? 0
        }
    }
    return 0
}

/// The `CLIENT LIST` lines of connections named `name`.
func clientListLines(_ server: RedisServer, named name: String) throws -> [String] {
    let list = try server.command("CLIENT", "LIST").string ?? ""
    return list.split(whereSeparator: \.isNewline).map(String.init).filter { $0.contains(" name=\(name) ") }
}

/// A TCP port on which nothing listens (a server started and stopped).
func closedPort() async throws -> Int {
    let server = try await RedisServer.start()
    let port = server.port
    server.stop()
    return port
}

/// The ten keys of queue `name`.
func queueKeys(_ name: String) -> [String] { QueueKeys(queue: name).all }

/// Collects values from concurrent tasks.
final class Collector<Element: Sendable>: Sendable {
    private let storage = Mutex<[Element]>([])
    func append(_ element: Element) { storage.withLock { $0.append(element) } }
    func append(contentsOf elements: [Element]) { storage.withLock { $0.append(contentsOf: elements) } }
    var values: [Element] { storage.withLock { $0 } }
}

/// A counter shared by concurrent tasks.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ n: Int = 1) { value.add(n, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
    func max(_ n: Int) {
        var current = value.load(ordering: .relaxed)
        while n > current {
            let (exchanged, original) = value.compareExchange(expected: current, desired: n, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// A flag shared by concurrent tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
