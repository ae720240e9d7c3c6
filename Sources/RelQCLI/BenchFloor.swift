import RelQ
import Synchronization

extension BenchScenario {
    /// The floor of a batched cycle on this server: the data-structure work a fenced cycle
    /// cannot do without, as plain multi-element commands (no scripts, no counters, no checks).
    ///
    /// Per batch of `batch` tasks, four round trips (the queue layout of `lua/README.md`, where the
    /// lease member `id:token` is the fence):
    /// 1. `HSET tasks` (id → 107-byte value) and `LPUSH pending` — store and queue;
    /// 2. `RPOP pending batch` — take;
    /// 3. `HMGET tasks` and `ZADD leases` (deadline → `id:token`) — lease;
    /// 4. `ZREM leases` and `HDEL tasks` — release.
    ///
    /// Not a queue (no atomicity, no idempotency, no limits): the floor that RelQ's three scripts
    /// are compared with, in server CPU per task from `INFO cpu`.
    ///
    /// `leases` holds the same encoding anchor as a queue's (see `lua/README.md`), so the floor
    /// gets the encodings RelQ keeps (skiplist, hashtable). Without anchors small keys stay
    /// listpacks, where every field costs a scan: callgrind counted such a floor at 3× the
    /// instructions (`FLOOR=1 scripts/lua-profile.sh`), which made RelQ look as cheap as its floor
    /// in runs before the fifth session.
    static func measureFloor(_ context: BenchContext, batch: Int, workers: Int) async throws -> CycleMeasurement {
        let key = "floor \(batch)x\(workers)"
        if let cached = context.cycles.withLock({ $0[key] }) { return cached }
        func name(_ part: String) -> String { "relq:{relq-bench-floor}:\(part)" }
        let (tasks, pending, leases) = (name("tasks"), name("pending"), name("leases"))
        let client = context.client
        let value = String(repeating: "x", count: BenchContext.payload.count + 7)
        let deadline = "1790000000000"
        let nextID = Atomic<Int>(1)
        let anchor = "~relq anchor~" + String(repeating: "~", count: 120)
        _ = try await client.send(.pipeline([
            RedisCommand(["DEL", tasks, pending, leases]),
            RedisCommand(["HSET", tasks, "", anchor]), RedisCommand(["ZADD", leases, "inf", anchor]),
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
            var lease = ["ZADD", leases]
            lease.reserveCapacity(2 + 2 * popped.count)
            let members = popped.map { "\($0):\($0)" } // id:token (the token: any unique number)
            for member in members { lease += [deadline, member] }
            _ = try await client.send(.pipeline([RedisCommand(["HMGET", tasks] + popped), RedisCommand(lease)]))
            _ = try await client.send(.pipeline([
                RedisCommand(["ZREM", leases] + members), RedisCommand(["HDEL", tasks] + popped),
            ]))
            return popped.count
        }
        _ = try await client.send(RedisCommand(["DEL", tasks, pending, leases]))
        context.cycles.withLock { $0[key] = result }
        return result
    }
}
