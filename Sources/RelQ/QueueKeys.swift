/// Every Redis key of one queue, built in this one place.
///
/// All keys share the hash tag `{<queue>}`, so in Redis Cluster a queue lives on one slot and
/// every script can touch all of its keys: `relq:{emails}:pending`, `relq:{emails}:tasks`, ….
/// The parts and what they hold are documented in `lua/README.md`.
struct QueueKeys: Sendable, Hashable {
    /// The key parts in their canonical order (the order scripts take them in). `working` holds
    /// only leases written by the queue-layout-1 scripts (`lua/README.md`): swept, counted,
    /// inspected and removed, never written.
    static let parts = ["pending", "delayed", "leases", "dead", "tasks", "state", "errors", "meta", "rate", "signal", "working", "groups"]

    /// The queue's name (already validated).
    let queue: String

    /// `relq:{<queue>}:<part>`.
    func key(_ part: String) -> String { "relq:{\(queue)}:\(part)" }

    /// Every key of the queue, in canonical order.
    var all: [String] { Self.parts.map(key) }

    /// The keys a script takes, in the order its contract header lists them.
    func keys(for script: LuaScript) -> [String] { script.keys.map(key) }

    /// The `meta` key pattern that finds every queue with `SCAN`.
    static let metaPattern = "relq:{*}:meta"

    /// The queue name inside a `relq:{<queue>}:meta` key, or nil.
    static func queueName(fromMetaKey key: String) -> String? {
        guard key.hasPrefix("relq:{"), key.hasSuffix("}:meta") else { return nil }
        let name = key.dropFirst("relq:{".count).dropLast("}:meta".count)
        return Validation.isValidName(name) ? String(name) : nil
    }
}
