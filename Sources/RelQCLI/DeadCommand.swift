import ArgumentParser
import Foundation
import Logging
import RelQ

/// `relq dead …`: inspect and act on a queue's dead-letter queue.
struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "List, show, retry or purge dead letters.",
        discussion: """
            EXAMPLES
              relq dead list emails
              relq dead list emails --offset 20 --limit 20 --json
              relq dead show emails 42
              relq dead retry emails 42 43
              relq dead retry emails --all
              relq dead purge emails --all --yes
            """,
        subcommands: [DeadListCommand.self, DeadShowCommand.self, DeadRetryCommand.self, DeadPurgeCommand.self]
    )
}

/// One dead letter as JSON.
struct DeadLetterJSON: Codable, Sendable {
    var id: String
    var attempts: Int
    var lastError: String?
    var deadAtMilliseconds: Int64
    var deadAt: String
    /// The payload as text (`payloadEncoding` utf8) or hex (`payloadEncoding` hex).
    var payload: String
    var payloadEncoding: String
}

struct DeadLetterPageJSON: Codable, Sendable {
    var queue: String
    var total: Int
    var offset: Int
    var entries: [DeadLetterJSON]
}

struct DeadListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List dead letters, oldest first.",
        discussion: """
            EXAMPLES
              relq dead list emails
              relq dead list emails --offset 100 --limit 50
              relq dead list emails --json | jq '.entries[].id'
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Option(help: "How many of the oldest to skip.") var offset = 0
    @Option(help: "The most to show (1-1000).") var limit = 20
    @Flag(help: "Print JSON: {queue, total, offset, entries: [{id, attempts, lastError, deadAt, payload, …}]}.") var json = false

    func validate() throws {
        guard offset >= 0 else { throw ValidationError("--offset must not be negative") }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1-1000, got \(limit)") }
    }

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            let page = try await handle.deadLetters(offset: offset, limit: limit)
            if json {
                let entries = page.entries.map { entry -> DeadLetterJSON in
                    let (text, encoding) = Format.payload(entry.payload)
                    return DeadLetterJSON(
                        id: entry.id, attempts: entry.attempts, lastError: entry.lastError,
                        deadAtMilliseconds: entry.deadAt.millisecondsSince1970, deadAt: Format.time(entry.deadAt),
                        payload: text, payloadEncoding: encoding)
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(DeadLetterPageJSON(queue: queue, total: page.total, offset: offset, entries: entries)), as: UTF8.self))
                return
            }
            if page.entries.isEmpty {
                print(page.total == 0 ? "no dead letters in '\(queue)'" : "no dead letters at offset \(offset) (\(page.total) in all)")
                return
            }
            let rows = page.entries.map { entry in
                [entry.id, "\(entry.attempts)", Format.time(entry.deadAt), Format.preview(Array((entry.lastError ?? "-").utf8), width: 40), Format.preview(entry.payload, width: 40)]
            }
            Terminal.write(Format.table(["ID", "ATTEMPTS", "DEAD AT", "LAST ERROR", "PAYLOAD"], rows, rightAligned: [1]))
            print("\(offset + 1)-\(offset + page.entries.count) of \(page.total) dead letters")
        }
    }
}

struct DeadShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one dead letter: payload, attempts, last error, when it died.",
        discussion: """
            The payload is printed as text when it is valid UTF-8, else as hex.

            EXAMPLES
              relq dead show emails 42
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Argument(help: "The task id.") var id: String

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            guard let info = try await handle.task(id: id) else {
                throw CLIError.notFound("no dead letter '\(id)' in queue '\(queue)'")
            }
            guard info.state == .dead else {
                throw CLIError.notFound("task '\(id)' in queue '\(queue)' is \(info.state), not dead")
            }
            let (payload, encoding) = Format.payload(info.payload)
            print("id:          \(info.id)")
            print("queue:       \(queue)")
            print("attempts:    \(info.attempts)")
            print("last error:  \(info.lastError ?? "-")")
            print("dead at:     \(info.time.map(Format.time) ?? "-")")
            print("enqueued at: \(Format.time(info.enqueuedAt))")
            print("payload (\(info.payload.count) bytes, \(encoding == "utf8" ? "text" : "hex")):")
            print(payload)
        }
    }
}

/// Shared by retry and purge: which ids exist as dead letters.
private func splitDeadIDs(_ ids: [String], queue: ReliableQueue) async throws -> (present: [String], missing: [String]) {
    var present: [String] = []
    var missing: [String] = []
    for id in ids {
        let info: TaskInfo?
        do {
            info = try await queue.task(id: id)
        } catch let error as ReliableQueueError where error.code == .invalidArgument {
            throw CLIError.usage(error.message)
        }
        if info?.state == .dead { present.append(id) } else { missing.append(id) }
    }
    return (present, missing)
}

private func chunks(_ ids: [String]) -> [[String]] {
    stride(from: 0, to: ids.count, by: 1000).map { Array(ids[$0..<min($0 + 1000, ids.count)]) }
}

struct DeadRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Move dead letters back to pending with a fresh attempt count.",
        discussion: """
            Ids that are not dead letters are reported and the command exits 3 (the others are retried).

            EXAMPLES
              relq dead retry emails 42 43
              relq dead retry emails --all
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Argument(help: "The dead letters to retry.") var ids: [String] = []
    @Flag(help: "Retry every dead letter.") var all = false

    func validate() throws {
        if all == !ids.isEmpty { throw ValidationError("name dead letters to retry, or pass --all (not both)") }
    }

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            if all {
                let count = try await handle.retryAllDeadLetters()
                print("retried \(count) dead letter\(count == 1 ? "" : "s") in '\(queue)'")
                return
            }
            let (present, missing) = try await splitDeadIDs(ids, queue: handle)
            var count = 0
            for chunk in chunks(present) { count += try await handle.retryDeadLetters(ids: chunk) }
            print("retried \(count) dead letter\(count == 1 ? "" : "s") in '\(queue)'")
            if !missing.isEmpty {
                throw CLIError.notFound("not dead letters in '\(queue)': \(missing.joined(separator: " "))")
            }
        }
    }
}

struct DeadPurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete dead letters for good.",
        discussion: """
            Asks for confirmation on a terminal unless --yes; without a terminal, --yes is required (exit 2).

            EXAMPLES
              relq dead purge emails 42
              relq dead purge emails --all --yes
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Argument(help: "The dead letters to delete.") var ids: [String] = []
    @Flag(help: "Delete every dead letter.") var all = false
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false

    func validate() throws {
        if all == !ids.isEmpty { throw ValidationError("name dead letters to purge, or pass --all (not both)") }
    }

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            if all {
                let total = try await handle.deadLetters(offset: 0, limit: 1).total
                if total == 0 {
                    print("no dead letters in '\(queue)'")
                    return
                }
                try Terminal.confirm("Purge all \(total) dead letters of '\(queue)'?", yes: yes)
                let count = try await handle.purgeAllDeadLetters()
                print("purged \(count) dead letter\(count == 1 ? "" : "s") from '\(queue)'")
                return
            }
            let (present, missing) = try await splitDeadIDs(ids, queue: handle)
            if !present.isEmpty {
                try Terminal.confirm("Purge \(present.count) dead letter\(present.count == 1 ? "" : "s") of '\(queue)'?", yes: yes)
            }
            var count = 0
            for chunk in chunks(present) { count += try await handle.purgeDeadLetters(ids: chunk) }
            print("purged \(count) dead letter\(count == 1 ? "" : "s") from '\(queue)'")
            if !missing.isEmpty {
                throw CLIError.notFound("not dead letters in '\(queue)': \(missing.joined(separator: " "))")
            }
        }
    }
}
