/// A loopback TCP proxy that injects network faults between a client and a server.
///
/// It listens on `127.0.0.1:<free port>` and forwards each accepted connection to the target,
/// one POSIX thread per connection (`poll()` over both sockets) plus one accept thread.
/// Change ``mode`` at any time (``Mode/pass``, ``Mode/blackhole``, ``Mode/refuse``,
/// ``Mode/delay(_:)``); cut live connections with ``dropAll()`` (FIN) or ``resetAll()`` (RST).
/// Never raises SIGPIPE. ``stop()`` (also run by `deinit`) closes everything and waits for the threads.
///
/// ```swift
/// let proxy = try FaultProxy.start(target: server)
/// defer { proxy.stop() }
/// // connect the library under test to 127.0.0.1:proxy.port
/// proxy.mode = .blackhole
/// ```
public final class FaultProxy: Sendable {
    private let core: FaultProxyCore

    /// The host the proxy listens on: always `127.0.0.1`.
    public let host = "127.0.0.1"
    /// The port the proxy listens on.
    public var port: Int { core.port }
    /// The host connections are forwarded to.
    public var targetHost: String { core.targetHost }
    /// The port connections are forwarded to.
    public var targetPort: Int { core.targetPort }

    private init(core: FaultProxyCore) {
        self.core = core
    }

    deinit {
        core.stop()
    }

    /// Starts a proxy forwarding to `targetHost:targetPort`.
    /// - Parameters:
    ///   - targetHost: The IPv4 address (or `localhost`) to forward to.
    ///   - targetPort: The port to forward to.
    ///   - mode: The initial mode. Default ``Mode/pass``.
    /// - Returns: The running proxy.
    /// - Throws: ``RelQTestingError`` if the listening socket or the accept thread cannot be created.
    public static func start(targetHost: String = "127.0.0.1", targetPort: Int, mode: Mode = .pass) throws -> FaultProxy {
        _ = try Posix.ipv4Address(host: targetHost, port: targetPort)
        return FaultProxy(core: try FaultProxyCore(targetHost: targetHost, targetPort: targetPort, mode: mode))
    }

    /// Starts a proxy forwarding to a ``RedisServer``.
    /// - Parameters:
    ///   - target: The server to forward to.
    ///   - mode: The initial mode. Default ``Mode/pass``.
    /// - Returns: The running proxy.
    /// - Throws: ``RelQTestingError`` if the listening socket or the accept thread cannot be created.
    public static func start(target: RedisServer, mode: Mode = .pass) throws -> FaultProxy {
        try start(targetHost: target.host, targetPort: target.port, mode: mode)
    }

    /// `redis://127.0.0.1:PORT` for this proxy (no password).
    public var url: String { "redis://\(host):\(port)" }

    /// The current mode; setting it applies to live and new connections within a few milliseconds.
    public var mode: Mode {
        get { core.mode }
        set { core.mode = newValue }
    }

    /// Closes all live connections on both sides with FIN; returns once they are closed.
    /// New connections are accepted as the mode says.
    public func dropAll() {
        core.closeAll(reset: false)
    }

    /// Closes all live connections on both sides with RST (`SO_LINGER` 0); returns once they are closed.
    public func resetAll() {
        core.closeAll(reset: true)
    }

    /// Connection and byte counters.
    public var stats: Stats {
        core.stats
    }

    /// Stops accepting, closes all connections and joins the threads. Idempotent; also run by `deinit`.
    public func stop() {
        core.stop()
    }
}
