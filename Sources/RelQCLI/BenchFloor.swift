import RelQ
import Synchronization

extension BenchScenario {
    /// The floor of a batched cycle on this server: the data-structure work a fenced cycle
    /// cannot do without, as plain multi-element commands (no scripts, no counters, no checks).
    ///
    /// Per batch of `batch` tasks, four round trips:
    /// 1. `HSET tasks` (id → 107-byte value) and `LPUSH pending` — store and queue;
    /// 2. `RPOP pending batch` — take;
    /// 3. `HMGET tasks`, `ZADD working` (deadline → id) and `HSET state` (id → fence token) — lease;
    /// 4. `ZREM working`, `HDEL tasks`, `HDEL state` — release.
    ///
    /// Not a queue (no atomicity, no idempotency, no limits): the floor that RelQ's three scripts
    /// are compared with, in server CPU per task from `INFO cpu`.
    ///
    /// `state` and `working` hold the same encoding anchors as a queue's (see `lua/README.md`), so
    /// the floor gets the encodings RelQ keeps (hashtable, skiplist). Without them both stay
    /// listpacks at the sizes a batch holds, where every field costs a scan: callgrind counts such
    /// a floor at 3× the instructions (`FLOOR=1 scripts/lua-profile.sh`), which made RelQ look as
    /// cheap as its floor in runs before the fifth session.
    static func measureFloor(_ context: BenchContext, batch: Int, workers: Int) async throws -> CycleMeasurement {
        let key = "floor \(batch)x\(workers)"
        if let cached = context.cycles.withLock({ $0[key] }) { return cached }
        func name(_ part: String) -> String { "relq:{relq-bench-floor}:\(part)" }
        let (tasks, pending, working, state) = (name("tasks"), name("pending"), name("working"), name("state"))
        let client = context.client
        let value = String(repeating: "x", count: BenchContext.payload.count + 7)
        let deadline = "1790000000000"
        let nextID = Atomic<Int>(1)
        let anchor = "~relq anchor~" + String(repeating: "~", count: 120)
        _ = try await client.send(.pipeline([
            RedisCommand(["DEL", tasks, pending, working, state]),
            RedisCommand(["HSET", state, "", anchor]), RedisCommand(["ZADD", working, "inf", anchor]),
        ]))

        let result = try await context.timedCycle("cost: floor, plain commands in batches of \(batch) × \(workers) workers", workers: workers) { _ in
            let first = nextID.add(batch, ordering: .relaxed).oldValue
            let ids = (first..<(first + batch)).map(String.init)
            var store = ["HSET", tasks]
            store.reserveCapacity(2 + 2 * batch)
            for id in ids { store += [id, value] }
            _ = try await client.send(.pipeline([RedisCommand(store), RedisCommand(["LPUSH", pending] + ids)]))

            let popped = (try await client.send("RPOP", pending, String(batch))).array?.compactMap(\.string) ?? []
            guard !popped.isEmpty else { return 0 }
            var lease = ["ZADD", working]
            var fence = ["HSET", state]
            lease.reserveCapacity(2 + 2 * popped.count)
            fence.reserveCapacity(2 + 2 * popped.count)
            for id in popped {
                lease += [deadline, id]
                fence += [id, "1:\(id):5:30000"]
            }
            _ = try await client.send(.pipeline([RedisCommand(["HMGET", tasks] + popped), RedisCommand(lease), RedisCommand(fence)]))
            _ = try await client.send(.pipeline([
                RedisCommand(["ZREM", working] + popped), RedisCommand(["HDEL", tasks] + popped), RedisCommand(["HDEL", state] + popped),
            ]))
            return popped.count
        }
        _ = try await client.send(RedisCommand(["DEL", tasks, pending, working, state]))
        context.cycles.withLock { $0[key] = result }
        return result
    }
}
