import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one run of the `relq` binary produced.
struct CLIResult: Sendable, CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String
    let elapsed: Duration

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

enum CLIRunnerError: Error, CustomStringConvertible {
    case binaryNotFound([String])
    case timedOut([String])

    var description: String {
        switch self {
        case .binaryNotFound(let tried): return "the relq binary was not found (build it, or set RELQ_BINARY); tried \(tried)"
        case .timedOut(let arguments): return "relq \(arguments.joined(separator: " ")) did not finish in time"
        }
    }
}

/// Runs the built `relq` binary with Foundation `Process`.
enum CLIRunner {
    /// `RELQ_BINARY`, else `relq` next to the test bundle (e.g. `.build/debug/relq`).
    static func binaryPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["RELQ_BINARY"], !path.isEmpty { return path }
        var directories: [URL] = []
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            directories.append(url)
            url = url.deletingLastPathComponent()
        }
        let bundle = Bundle.main.bundleURL
        directories.append(bundle)
        directories.append(bundle.deletingLastPathComponent())
        let candidates = directories.map { $0.appendingPathComponent("relq").path }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue { return candidate }
        }
        throw CLIRunnerError.binaryNotFound(candidates)
    }

    /// Runs `relq arguments…` with `REDIS_URL=url` (unset when nil), stdin from `stdin` (or /dev/null).
    static func run(
        _ arguments: [String], url: String?, stdin: Data? = nil, environment: [String: String] = [:], timeout: Duration = .seconds(30)
    ) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binaryPath())
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "REDIS_URL")
        if let url { env["REDIS_URL"] = url }
        for (key, value) in environment { env[key] = value }
        process.environment = env

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relq-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let inURL = directory.appendingPathComponent("stdin")
            _ = FileManager.default.createFile(atPath: inURL.path, contents: stdin)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }

        let start = ContinuousClock.now
        try process.run()
        let deadline = start + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                usleep(200_000)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                throw CLIRunnerError.timedOut(arguments)
            }
            usleep(10_000)
        }
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        let stdoutText = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
        let stderrText = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
        return CLIResult(status: process.terminationStatus, stdout: stdoutText, stderr: stderrText, elapsed: elapsed)
    }
}
