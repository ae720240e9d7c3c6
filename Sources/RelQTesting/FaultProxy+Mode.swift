extension FaultProxy {
    /// What the proxy does with traffic. Settable at any time with ``FaultProxy/mode``.
    public enum Mode: Sendable, Hashable, CustomStringConvertible {
        /// Forward bytes in both directions as they arrive.
        case pass
        /// A network partition: keep connections (old and new) open but hold all bytes in both
        /// directions. Held bytes flow again when the mode returns to ``pass`` or ``delay(_:)``.
        case blackhole
        /// Accept new connections and close them at once (FIN; the kernel sends RST instead if the client
        /// already sent bytes). Existing connections are untouched.
        case refuse
        /// A slow link: forward each chunk after the given delay, in order.
        case delay(Duration)

        /// `pass`, `blackhole`, `refuse` or `delay(<duration>)`.
        public var description: String {
            switch self {
            case .pass: "pass"
            case .blackhole: "blackhole"
            case .refuse: "refuse"
            case .delay(let duration): "delay(\(duration))"
            }
        }
    }
}
