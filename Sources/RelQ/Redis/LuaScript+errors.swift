extension LuaScript {
    /// The status codes every queue script may return first (see `lua/README.md`).
    enum Status {
        static let ok: Int64 = 1
        static let invalidArgument: Int64 = -1
        static let staleLease: Int64 = -2
        static let notFound: Int64 = -3
    }

    /// The one place script replies become Swift errors: checks the reply is an array whose first
    /// element is a status, maps the negative codes, and returns the elements.
    /// - Parameters:
    ///   - reply: the script's reply.
    ///   - taskID: the task concerned, for the message.
    func elements(of reply: RedisReply, taskID: String? = nil) throws -> [RedisReply] {
        guard let elements = reply.array, let status = elements.first?.int else {
            throw ReliableQueueError(.scriptFailed, "script \(name) returned \(reply), not a status array")
        }
        if let error = error(forStatus: status, taskID: taskID, detail: elements.count > 1 ? elements[1].string : nil) {
            throw error
        }
        return elements
    }

    /// The error for a negative status code, or nil for the others.
    func error(forStatus status: Int64, taskID: String?, detail: String? = nil) -> ReliableQueueError? {
        let task = taskID.map { "task '\($0)'" } ?? "the task"
        switch status {
        case Status.invalidArgument:
            return ReliableQueueError(.invalidArgument, "script \(name) refused its arguments: \(detail ?? "")")
        case Status.staleLease:
            return ReliableQueueError(.staleLease, "the lease on \(task) is stale: its lease ran out and it was delivered again or moved; nothing changed")
        case Status.notFound:
            return ReliableQueueError(.taskNotFound, "\(task) is not in the queue: already released or removed; nothing changed")
        default:
            return nil
        }
    }
}

extension Array where Element == RedisReply {
    /// The integer at `index`, or a `scriptFailed` error naming the script.
    func int(_ index: Int, _ script: LuaScript) throws -> Int64 {
        guard index < count, let value = self[index].int else {
            throw ReliableQueueError(.scriptFailed, "script \(script.name) returned no integer at position \(index + 1)")
        }
        return value
    }

    /// The bytes at `index`, or a `scriptFailed` error naming the script.
    func bytes(_ index: Int, _ script: LuaScript) throws -> [UInt8] {
        guard index < count, let value = self[index].bytes else {
            throw ReliableQueueError(.scriptFailed, "script \(script.name) returned no string at position \(index + 1)")
        }
        return value
    }

    /// The text at `index`, or a `scriptFailed` error naming the script.
    func string(_ index: Int, _ script: LuaScript) throws -> String {
        guard index < count, let value = self[index].string else {
            throw ReliableQueueError(.scriptFailed, "script \(script.name) returned no string at position \(index + 1)")
        }
        return value
    }

    /// The stored task value at `index` (lua/README.md, "Task value": format byte 1, enqueue time
    /// in ms as 48-bit big-endian, payload) split into payload and enqueue time.
    func taskValue(_ index: Int, _ script: LuaScript) throws -> (payload: [UInt8], enqueuedMilliseconds: Int64) {
        let value = try bytes(index, script)
        guard value.count >= 7, value[0] == 1 else {
            throw ReliableQueueError(.scriptFailed, "script \(script.name) returned a task value of unknown format at position \(index + 1)")
        }
        var milliseconds: Int64 = 0
        for offset in 1...6 { milliseconds = milliseconds << 8 | Int64(value[offset]) }
        return ([UInt8](value[7...]), milliseconds)
    }
}
