/// What a queue's script calls need: the client, the durability rule and the metrics. A value,
/// so the coalescers can capture it without holding on to the ``ReliableQueue``.
struct ScriptContext: Sendable {
    let client: RedisClient
    let durability: ReliableQueue.Durability
    let metrics: QueueMetrics

    /// Runs a bound script and maps its status codes (the one place this happens).
    func call(_ bound: BoundScript, taskID: String? = nil, argumentCount: Int, capacity: Int = 64, _ body: (inout RESPWriter) -> Void) async throws -> [RedisReply] {
        let command = bound.command(argumentCount: argumentCount, capacity: capacity, body)
        let reply = try await client.run(command, script: bound.script)
        return try bound.script.elements(of: reply, taskID: taskID)
    }

    /// Sends `WAIT` after a write when the durability asks for replicas.
    func awaitDurability() async throws {
        guard durability.replicas > 0 else { return }
        try await client.waitForReplicas(durability.replicas, timeout: durability.timeout)
    }
}
