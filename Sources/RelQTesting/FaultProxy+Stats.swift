extension FaultProxy {
    /// Counters of a ``FaultProxy``, read with ``FaultProxy/stats``.
    public struct Stats: Sendable, Hashable, CustomStringConvertible {
        /// Connections accepted since start (including refused ones).
        public var accepted: Int
        /// Connections currently being forwarded.
        public var live: Int
        /// Bytes forwarded from clients to the target.
        public var bytesToTarget: Int
        /// Bytes forwarded from the target to clients.
        public var bytesToClient: Int

        /// Creates counters.
        /// - Parameters:
        ///   - accepted: Connections accepted since start.
        ///   - live: Connections currently open.
        ///   - bytesToTarget: Bytes forwarded client → target.
        ///   - bytesToClient: Bytes forwarded target → client.
        public init(accepted: Int = 0, live: Int = 0, bytesToTarget: Int = 0, bytesToClient: Int = 0) {
            self.accepted = accepted
            self.live = live
            self.bytesToTarget = bytesToTarget
            self.bytesToClient = bytesToClient
        }

        /// `accepted=… live=… toTarget=… toClient=…`.
        public var description: String {
            "accepted=\(accepted) live=\(live) toTarget=\(bytesToTarget) toClient=\(bytesToClient)"
        }
    }
}
