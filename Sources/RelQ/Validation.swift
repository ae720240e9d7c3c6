/// Checks on user input, done in Swift before anything is sent to Redis.
enum Validation {
    /// The longest delay, lease or retention accepted.
    static let maxDuration: Duration = .seconds(365 * 86_400)
    /// The most tasks one script call handles (scripts refuse more).
    static let maxBatch = 1000

    /// Whether `name` matches `[A-Za-z0-9._-]{1,128}`.
    static func isValidName<S: StringProtocol>(_ name: S) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= 128 else { return false }
        return utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    static func queueName(_ name: String) throws {
        guard isValidName(name) else {
            throw ReliableQueueError(.invalidArgument, "queue name '\(name.prefix(140))' must be 1-128 characters of A-Z a-z 0-9 . _ -")
        }
    }

    static func taskID(_ id: String) throws {
        guard isValidName(id) else {
            throw ReliableQueueError(.invalidArgument, "task id '\(id.prefix(140))' must be 1-128 characters of A-Z a-z 0-9 . _ -")
        }
    }

    /// A duration in whole milliseconds within `minimum...maxDuration`.
    static func milliseconds(_ duration: Duration, _ what: String, minimum: Duration = .zero) throws -> Int64 {
        guard duration >= minimum else {
            throw ReliableQueueError(.invalidArgument, "\(what) must be at least \(minimum), got \(duration)")
        }
        guard duration <= maxDuration else {
            throw ReliableQueueError(.invalidArgument, "\(what) must be at most 365 days, got \(duration)")
        }
        let ms = duration.wholeMilliseconds
        if minimum > .zero && ms < 1 {
            throw ReliableQueueError(.invalidArgument, "\(what) must be at least 1 ms, got \(duration)")
        }
        return ms
    }

    static func count(_ value: Int, _ what: String, maximum: Int) throws {
        guard value >= 1, value <= maximum else {
            throw ReliableQueueError(.invalidArgument, "\(what) must be between 1 and \(maximum), got \(value)")
        }
    }
}
