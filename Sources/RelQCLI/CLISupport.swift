import ArgumentParser
import Foundation
import Logging
import RelQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The default Redis URL when neither `--url` nor `REDIS_URL` is given.
let defaultRedisURL = "redis://127.0.0.1:6379"

/// `--url` and `--log-level`, shared by every subcommand that talks to Redis.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The Redis URL, redis://[user:password@]host[:port][/db] or unix:///path (default: $REDIS_URL, else \(defaultRedisURL)).", valueName: "url"))
    var url: String?

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: String = "info"

    /// The URL in force: `--url`, else `REDIS_URL`, else the default.
    var resolvedURL: String {
        if let url { return url }
        if let env = ProcessInfo.processInfo.environment["REDIS_URL"], !env.isEmpty { return env }
        return defaultRedisURL
    }

    /// Whether a URL was given explicitly (`--url` or `REDIS_URL`).
    var isURLGiven: Bool {
        url != nil || !(ProcessInfo.processInfo.environment["REDIS_URL"] ?? "").isEmpty
    }

    var level: Logger.Level { Logger.Level(rawValue: logLevel.lowercased()) ?? .info }

    func validate() throws {
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical (got '\(logLevel)')")
        }
        do {
            _ = try RedisConfiguration(url: resolvedURL)
        } catch let error as ReliableQueueError {
            let source = url != nil ? "--url" : "REDIS_URL"
            throw ValidationError("invalid Redis URL in \(source): \(error.message)")
        }
    }

    /// A logger writing to stderr at `--log-level`.
    func makeLogger(label: String = "relq") -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    /// The configuration of the URL in force (validated already).
    func configuration() throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: resolvedURL)
        configuration.connectTimeout = .seconds(2)
        configuration.clientName = "relq-cli"
        return configuration
    }

    /// A client for the URL in force. Nothing is connected until the first command.
    func makeClient(logger: Logger) throws -> RedisClient {
        try RedisClient(configuration: configuration(), logger: logger)
    }
}

/// An error that ends the command with a one-line message and a specific exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    static func notFound(_ message: String) -> CLIError { CLIError(message: message, exitCode: 3) }
    static func usage(_ message: String) -> CLIError { CLIError(message: message, exitCode: 2) }
    static func failure(_ message: String) -> CLIError { CLIError(message: message, exitCode: 1) }

    var description: String { message }
}

/// A duration argument: `250ms`, `2s`, `1.5s`, `1m`, `2h`, `1d` (a bare number is seconds).
struct DurationArgument: ExpressibleByArgument, Sendable, Hashable, CustomStringConvertible {
    var duration: Duration
    private var text: String

    init(_ duration: Duration) {
        self.duration = duration
        self.text = DurationArgument.format(duration)
    }

    init?(argument: String) {
        guard let duration = DurationArgument.parse(argument) else { return nil }
        self.duration = duration
        self.text = argument
    }

    static func parse(_ argument: String) -> Duration? {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var number = Substring(text)
        var scale = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = factor
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else { return nil }
        let seconds = value * scale
        guard seconds.isFinite, seconds >= 0, seconds <= 365 * 86_400 else { return nil }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 1000 != 0 || ms == 0 { return "\(ms)ms" }
        if ms % 60_000 == 0 && ms >= 60_000 { return "\(ms / 60_000)m" }
        return "\(ms / 1000)s"
    }

    var description: String { text }
    var defaultValueDescription: String { text }

    static var defaultCompletionKind: CompletionKind { .default }
}

extension Duration {
    /// Whole milliseconds (truncated).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a floating-point number.
    var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Terminal helpers.
enum Terminal {
    static var isStdinTTY: Bool { isatty(STDIN_FILENO) != 0 }
    static var isStderrTTY: Bool { isatty(STDERR_FILENO) != 0 }
    static var isStdoutTTY: Bool { isatty(STDOUT_FILENO) != 0 }

    /// Writes to stderr (no newline added).
    static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Writes to stdout (no newline added) and flushes.
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Asks `question [y/N]` on a terminal; without one (and without `--yes`) refuses with exit 2.
    static func confirm(_ question: String, yes: Bool) throws {
        if yes { return }
        guard isStdinTTY else {
            let action = question.prefix(1).lowercased() + question.dropFirst().trimmingCharacters(in: CharacterSet(charactersIn: "?"))
            throw CLIError.usage("refusing to \(action) without confirmation: stdin is not a terminal; pass --yes")
        }
        writeError("\(question) [y/N] ")
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard answer == "y" || answer == "yes" else {
            throw CLIError(message: "aborted", exitCode: 1)
        }
    }
}

/// Formatting helpers.
enum Format {
    /// A payload as text when it is valid UTF-8 without control characters (other than tab/newline), else hex.
    static func payload(_ bytes: [UInt8]) -> (text: String, encoding: String) {
        if let text = String(validating: bytes, as: UTF8.self),
           !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" || $0.value == 0x7F }) {
            return (text, "utf8")
        }
        return (hex(bytes), "hex")
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// A one-line preview of a payload, at most `width` characters.
    static func preview(_ bytes: [UInt8], width: Int = 40) -> String {
        let (text, encoding) = payload(bytes)
        var line = text.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(of: "\r", with: "\\r")
        if encoding == "hex" { line = "0x" + line }
        if line.count > width { line = String(line.prefix(width - 1)) + "…" }
        return line
    }

    /// `850ms`, `12.3s`, `4m05s`, `3h12m`, `2d04h`.
    static func age(milliseconds ms: Int64?) -> String {
        guard let ms else { return "-" }
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        let s = ms / 1000
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        if s < 86_400 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        return String(format: "%dd%02dh", s / 86_400, (s % 86_400) / 3600)
    }

    /// An ISO 8601 UTC timestamp of a server time.
    static func time(_ time: ServerTime) -> String {
        let date = Date(timeIntervalSince1970: Double(time.millisecondsSince1970) / 1000)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeSeparator(.colon).dateSeparator(.dash).dateTimeSeparator(.standard).timeZoneSeparator(.omitted))
    }

    /// Left-aligned text table.
    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                if index == cells.count - 1 && !rightAligned.contains(index) { return cell }
                return rightAligned.contains(index) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}

extension RedisClient {
    /// Whether queue `name` exists (its `relq:{name}:meta` key exists).
    func queueExists(_ name: String) async throws -> Bool {
        let key = "relq:{\(name)}:meta"
        let reply = try await send(RedisCommand(["EXISTS", key], routingKey: key))
        return (reply.int ?? 0) > 0
    }
}

/// Opens a queue handle, checking the name; with `mustExist`, exits 3 when the queue does not exist.
extension ConnectionOptions {
    /// Connects, opens the queue `name` (which must exist unless `mustExist` is false), runs `body`
    /// with it, and shuts the client down.
    func withQueue<T>(_ name: String, mustExist: Bool = true, _ body: (ReliableQueue) async throws -> T) async throws -> T {
        let logger = makeLogger()
        let client = try makeClient(logger: logger)
        defer { client.shutdown() }
        let handle = try await openQueue(name, client: client, logger: logger, mustExist: mustExist)
        return try await body(handle)
    }
}

func openQueue(_ name: String, client: RedisClient, logger: Logger, mustExist: Bool = true, configuration: ReliableQueue.Configuration = .init()) async throws -> ReliableQueue {
    let queue: ReliableQueue
    do {
        queue = try ReliableQueue(name: name, client: client, configuration: configuration, logger: logger)
    } catch let error as ReliableQueueError where error.code == .invalidArgument {
        throw CLIError.usage(error.message)
    }
    if mustExist, try await !client.queueExists(name) {
        throw CLIError.notFound("queue '\(name)' does not exist")
    }
    return queue
}

/// Waits for SIGINT or SIGTERM, whichever comes first (the signals are then ignored by default handling).
func waitForTerminationSignal() async -> Int32 {
    let signals = [SIGINT, SIGTERM]
    for signalNumber in signals { signal(signalNumber, SIG_IGN) }
    let stream = AsyncStream<Int32> { continuation in
        let sources = signals.map { signalNumber -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { continuation.yield(signalNumber) }
            source.resume()
            return source
        }
        let box = SourcesBox(sources)
        continuation.onTermination = { _ in box.cancel() }
    }
    for await signalNumber in stream { return signalNumber }
    return 0
}

private final class SourcesBox: @unchecked Sendable {
    let sources: [any DispatchSourceSignal]
    init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }
    func cancel() { for source in sources { source.cancel() } }
}
