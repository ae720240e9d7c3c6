extension RedisServer {
    /// How ``RedisServer/start(_:)`` configures the child `redis-server`.
    ///
    /// Every server always gets `--bind 127.0.0.1 --save '' --daemonize no`, a private `--dir`,
    /// `--logfile <dir>/redis.log` and `--pidfile <dir>/redis.pid`.
    public struct Options: Sendable {
        /// Enables the append-only file (`--appendonly yes`), so data survives ``RedisServer/kill()``
        /// followed by ``RedisServer/restart()``. Default `false`.
        public var appendOnly: Bool
        /// The `appendfsync` policy: `"always"`, `"everysec"` or `"no"`. Default `"everysec"`.
        public var appendFsync: String
        /// Adds `--enable-debug-command local` so tests can use `DEBUG SLEEP` / `DEBUG SEGFAULT`. Default `false`.
        public var enableDebugCommand: Bool
        /// If set, the server requires this password (`--requirepass`). Default `nil`.
        public var password: String?
        /// Extra `redis-server` arguments appended last (for example `["--maxmemory", "10mb"]`).
        public var extraArguments: [String]
        /// The `redis-server` executable: a path, or a name searched on `PATH`.
        /// `nil` (default) means the `RELQ_REDIS_SERVER` environment variable, else `redis-server` on `PATH`.
        public var executablePath: String?
        /// How long ``RedisServer/start(_:)`` and ``RedisServer/restart()`` wait for `PONG`. Default 10 s.
        public var startTimeout: Duration

        /// Creates options; every parameter has a default.
        /// - Parameters:
        ///   - appendOnly: Enables the append-only file.
        ///   - appendFsync: `"always"`, `"everysec"` or `"no"`.
        ///   - enableDebugCommand: Allows `DEBUG` from local clients.
        ///   - password: `requirepass`, or `nil` for none.
        ///   - extraArguments: Extra server arguments.
        ///   - executablePath: The server executable, or `nil` for `RELQ_REDIS_SERVER` / `PATH`.
        ///   - startTimeout: How long to wait for the server to answer `PING`.
        public init(
            appendOnly: Bool = false,
            appendFsync: String = "everysec",
            enableDebugCommand: Bool = false,
            password: String? = nil,
            extraArguments: [String] = [],
            executablePath: String? = nil,
            startTimeout: Duration = .seconds(10)
        ) {
            self.appendOnly = appendOnly
            self.appendFsync = appendFsync
            self.enableDebugCommand = enableDebugCommand
            self.password = password
            self.extraArguments = extraArguments
            self.executablePath = executablePath
            self.startTimeout = startTimeout
        }
    }
}
