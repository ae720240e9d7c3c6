import ArgumentParser
import Foundation
import Logging
import RelQ

/// `relq enqueue`: adds one task.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue one task; prints its id and whether it was added.",
        discussion: """
            The payload is the PAYLOAD argument, a file (--file) or stdin (--stdin), as raw bytes. \
            With --id the enqueue is idempotent: a task with that id still in the queue is left \
            alone and the command prints "duplicate (already in the queue)" (exit 0).

            EXAMPLES
              relq enqueue emails '{"to":"a@example.com"}'
              relq enqueue emails --file message.json --id order-42
              echo hello | relq enqueue emails --stdin --delay 30s
              relq enqueue reports 'monthly' --lease 5m --max-attempts 3
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue (created by the first enqueue).") var queue: String
    @Argument(help: "The payload text.") var payload: String?
    @Option(help: "Read the payload from this file.") var file: String?
    @Flag(help: "Read the payload from stdin.") var stdin = false
    @Option(help: "Keep the task invisible this long (e.g. 5s, 1m).") var delay = DurationArgument(.zero)
    @Option(help: "A caller-chosen id ([A-Za-z0-9._-]{1,128}) for idempotent enqueue.") var id: String?
    @Option(help: "This task's lease instead of the queue default (30s).") var lease: DurationArgument?
    @Option(help: "This task's maximum deliveries instead of the default (5).") var maxAttempts: Int?

    func validate() throws {
        let sources = [payload != nil, file != nil, stdin].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give the payload as an argument, with --file PATH or with --stdin (exactly one)") }
        if let lease, lease.duration < .milliseconds(1) { throw ValidationError("--lease must be at least 1ms") }
        if let maxAttempts, !(1...1_000_000).contains(maxAttempts) { throw ValidationError("--max-attempts must be 1-1000000") }
    }

    func run() async throws {
        let bytes: [UInt8]
        if let payload {
            bytes = Array(payload.utf8)
        } else if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError.failure("cannot read the payload file '\(file)'")
            }
            bytes = Array(data)
        } else {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        try await connection.withQueue(queue, mustExist: false) { handle in
            let result = try await handle.enqueue(bytes, id: id, delay: delay.duration, leaseTimeout: lease?.duration, maxAttempts: maxAttempts)
            print("\(result.id) \(result.inserted ? "enqueued" : "duplicate (already in the queue)")")
        }
    }
}

/// One pending task as JSON.
struct PendingTaskJSON: Codable, Sendable {
    var id: String
    var attempts: Int
    var enqueuedAtMilliseconds: Int64
    var enqueuedAt: String
    var payload: String
    var payloadEncoding: String
}

/// `relq peek`: pending tasks without taking them.
struct PeekCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peek",
        abstract: "Show the oldest pending tasks without taking them.",
        discussion: """
            EXAMPLES
              relq peek emails
              relq peek emails --limit 100 --json
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Option(help: "The most tasks to show (1-1000).") var limit = 10
    @Flag(help: "Print a JSON array of {id, attempts, enqueuedAt, payload, payloadEncoding}.") var json = false

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1-1000, got \(limit)") }
    }

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            let (tasks, total) = try await handle.peek(offset: 0, limit: limit)
            if json {
                let entries = tasks.map { task -> PendingTaskJSON in
                    let (text, encoding) = Format.payload(task.payload)
                    return PendingTaskJSON(
                        id: task.id, attempts: task.attempts, enqueuedAtMilliseconds: task.enqueuedAt.millisecondsSince1970,
                        enqueuedAt: Format.time(task.enqueuedAt), payload: text, payloadEncoding: encoding)
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(entries), as: UTF8.self))
                return
            }
            if tasks.isEmpty {
                print("no pending tasks in '\(queue)'")
                return
            }
            let now = try await handle.stats().serverTimeMilliseconds
            let rows = tasks.map { task in
                [task.id, Format.age(milliseconds: max(0, now - task.enqueuedAt.millisecondsSince1970)), "\(task.attempts)", Format.preview(task.payload, width: 60)]
            }
            Terminal.write(Format.table(["ID", "AGE", "ATTEMPTS", "PAYLOAD"], rows, rightAligned: [1, 2]))
            print("\(tasks.count) of \(total) pending")
        }
    }
}

/// `relq pause`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop dequeues for every consumer (enqueues still work) until `relq resume`.",
        discussion: """
            EXAMPLES
              relq pause emails
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            try await handle.pause()
            print("paused '\(queue)'")
        }
    }
}

/// `relq resume`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Let dequeues go on after `relq pause`.",
        discussion: """
            EXAMPLES
              relq resume emails
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            try await handle.resume()
            print("resumed '\(queue)'")
        }
    }
}

/// `relq delete-queue`.
struct DeleteQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-queue",
        abstract: "Delete a queue: every task in every state, its counters and limits.",
        discussion: """
            Asks for confirmation on a terminal unless --yes; without a terminal, --yes is required (exit 2).

            EXAMPLES
              relq delete-queue scratch
              relq delete-queue scratch --yes
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        try await connection.withQueue(queue) { handle in
            let stats = try await handle.stats()
            let tasks = stats.pending + stats.delayed + stats.working + stats.dead
            try Terminal.confirm("Delete queue '\(queue)' with its \(tasks) task\(tasks == 1 ? "" : "s")?", yes: yes)
            try await handle.deleteQueue()
            print("deleted queue '\(queue)' (\(tasks) task\(tasks == 1 ? "" : "s"))")
        }
    }
}
