import RelQ
import Synchronization

extension BenchScenario {
    /// The floor of a batched cycle on this server: the data-structure work a fenced cycle
    /// cannot do without, as plain multi-element commands (no scripts, no counters, no checks).
    ///
    /// Per batch of `batch` tasks, four round trips (the queue layout of `lua/README.md`, where a
    /// batch dequeue leases its tasks as one lease group):
    /// 1. `HSET tasks` (id → 107-byte value) and `LPUSH pending` — store and queue;
    /// 2. `RPOP pending batch` — take;
    /// 3. `HMGET tasks`, `ZADD leases` (deadline → the group's token) and `HSET groups` (token →
    ///    the ids) — lease;
    /// 4. `HGET groups`, `ZREM leases`, `HDEL groups` and `HDEL tasks` — release.
    /// (Before the seventh session: one `leases` member `id:token` per task, `ZADD` and `ZREM` of
    /// `batch` members.)
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
        let (tasks, pending, leases, groups) = (name("tasks"), name("pending"), name("leases"), name("groups"))
        let client = context.client
        let value = String(repeating: "x", count: BenchContext.payload.count + 7)
        let deadline = "1790000000000"
        let nextID = Atomic<Int>(1)
        let anchor = "~relq anchor~" + String(repeating: "~", count: 120)
        _ = try await client.send(.pipeline([
            RedisCommand(["DEL", tasks, pending, leases, groups]),
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
            let token = "-" + popped[0]  // any unique number
            _ = try await client.send(.pipeline([
                RedisCommand(["HMGET", tasks] + popped), RedisCommand(["ZADD", leases, deadline, token]),
                RedisCommand(["HSET", groups, token, popped.joined(separator: ",")]),  // about the size of the packed ids
            ]))
            _ = try await client.send(.pipeline([
                RedisCommand(["HGET", groups, token]), RedisCommand(["ZREM", leases, token]),
                RedisCommand(["HDEL", groups, token]), RedisCommand(["HDEL", tasks] + popped),
            ]))
            return popped.count
        }
        _ = try await client.send(RedisCommand(["DEL", tasks, pending, leases, groups]))
        context.cycles.withLock { $0[key] = result }
        return result
    }
}
