/// How to reach Redis and how to behave on the connection.
///
/// ```swift
/// var configuration = try RedisConfiguration(url: "redis://app:secret@127.0.0.1:6379/0")
/// configuration.commandTimeout = .seconds(2)
/// ```
public struct RedisConfiguration: Sendable {
    /// Where the server listens.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        enum Value: Sendable, Hashable {
            case tcp(host: String, port: Int)
            case unixSocket(path: String)
        }

        let value: Value

        /// A TCP endpoint.
        public static func tcp(host: String, port: Int = 6379) -> Endpoint { Endpoint(value: .tcp(host: host, port: port)) }
        /// A unix domain socket.
        public static func unixSocket(path: String) -> Endpoint { Endpoint(value: .unixSocket(path: path)) }

        /// `host:port` or `unix:path`.
        public var description: String {
            switch value {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .unixSocket(let path): return "unix:\(path)"
            }
        }
    }

    /// Where the server listens. Default `127.0.0.1:6379`.
    public var endpoint: Endpoint
    /// The ACL user for `AUTH user password`; `nil` for `AUTH password` (the default user).
    public var username: String?
    /// The password; `nil` to skip `AUTH`. Never logged, never part of an error message.
    public var password: String?
    /// The database index for `SELECT`. Default 0.
    public var database: Int
    /// The name shown by `CLIENT LIST` (`CLIENT SETNAME`); spaces are not allowed.
    public var clientName: String?
    /// How long a connection attempt may take. Default 2 s.
    public var connectTimeout: Duration
    /// How long a command may wait for its reply before it fails with ``ReliableQueueError/Code/timeout``. Default 5 s.
    public var commandTimeout: Duration
    /// The number of pipelined connections shared by all callers. Default 2.
    public var poolSize: Int
    /// The most connections held by blocking commands (waiting consumers) at once. Default 16.
    public var maxBlockingConnections: Int
    /// The longest pause between reconnect attempts (the backoff starts at 20 ms and doubles). Default 1 s.
    public var reconnectBackoffLimit: Duration
    /// How long a command is retried while Redis answers `LOADING` or `BUSY` (it did not run). Default 30 s.
    public var busyRetryLimit: Duration

    /// Creates a configuration for a TCP or unix-socket endpoint.
    /// - Parameters:
    ///   - endpoint: where the server listens.
    ///   - username: the ACL user, if any.
    ///   - password: the password, if any.
    ///   - database: the database index.
    ///   - clientName: the `CLIENT SETNAME` name.
    public init(
        endpoint: Endpoint = .tcp(host: "127.0.0.1", port: 6379),
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        clientName: String? = nil
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.clientName = clientName
        self.connectTimeout = .seconds(2)
        self.commandTimeout = .seconds(5)
        self.poolSize = 2
        self.maxBlockingConnections = 16
        self.reconnectBackoffLimit = .seconds(1)
        self.busyRetryLimit = .seconds(30)
    }

    /// Parses `redis://[user:password@]host[:port][/db]` or `unix:///path/to/socket[?db=N]`.
    ///
    /// User and password are percent-decoded. Throws ``ReliableQueueError/Code/invalidArgument``
    /// for anything else (the message never repeats the password).
    public init(url: String) throws {
        self.init()
        if url.hasPrefix("unix://") {
            var path = String(url.dropFirst("unix://".count))
            if let query = path.firstIndex(of: "?") {
                let parameters = path[path.index(after: query)...]
                path = String(path[..<query])
                for pair in parameters.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2, parts[0] == "db" {
                        guard let db = Int(parts[1]), db >= 0 else {
                            throw ReliableQueueError(.invalidArgument, "the database in the Redis URL must be a non-negative integer")
                        }
                        database = db
                    }
                }
            }
            guard path.hasPrefix("/") else {
                throw ReliableQueueError(.invalidArgument, "a unix socket URL needs an absolute path: unix:///path/to/redis.sock")
            }
            endpoint = .unixSocket(path: path)
            return
        }
        guard url.hasPrefix("redis://") else {
            throw ReliableQueueError(.invalidArgument, "a Redis URL starts with redis:// or unix:// (rediss:// and TLS are not supported by hiredis 0.14: use a TLS tunnel)")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = Self.percentDecoded(credentials[..<colon])
                username = user.isEmpty ? nil : user
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                password = Self.percentDecoded(credentials)
            }
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else {
                    throw ReliableQueueError(.invalidArgument, "the database in the Redis URL must be a non-negative integer, not '\(dbText)'")
                }
                database = db
            }
        }
        var host = String(hostPort)
        var port = 6379
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw ReliableQueueError(.invalidArgument, "unbalanced [ in the Redis URL host")
            }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw ReliableQueueError(.invalidArgument, "the port in the Redis URL must be 1-65535")
                }
                port = p
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw ReliableQueueError(.invalidArgument, "the port in the Redis URL must be 1-65535")
            }
            port = p
        }
        guard !host.isEmpty else {
            throw ReliableQueueError(.invalidArgument, "the Redis URL has no host: redis://host:port")
        }
        endpoint = .tcp(host: host, port: port)
    }

    /// Checks the settings; throws ``ReliableQueueError/Code/invalidArgument``.
    func validate() throws {
        func positive(_ duration: Duration, _ name: String) throws {
            guard duration > .zero, duration <= .seconds(86_400) else {
                throw ReliableQueueError(.invalidArgument, "\(name) must be between 0 and 1 day, got \(duration)")
            }
        }
        try positive(connectTimeout, "connectTimeout")
        try positive(commandTimeout, "commandTimeout")
        try positive(reconnectBackoffLimit, "reconnectBackoffLimit")
        guard busyRetryLimit >= .zero else { throw ReliableQueueError(.invalidArgument, "busyRetryLimit must not be negative") }
        guard (1...64).contains(poolSize) else { throw ReliableQueueError(.invalidArgument, "poolSize must be 1-64, got \(poolSize)") }
        guard (1...1024).contains(maxBlockingConnections) else {
            throw ReliableQueueError(.invalidArgument, "maxBlockingConnections must be 1-1024, got \(maxBlockingConnections)")
        }
        guard database >= 0 else { throw ReliableQueueError(.invalidArgument, "database must not be negative") }
        if let clientName, clientName.isEmpty || clientName.contains(where: { $0 == " " || $0 == "\n" }) {
            throw ReliableQueueError(.invalidArgument, "clientName must be non-empty and contain no spaces")
        }
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
