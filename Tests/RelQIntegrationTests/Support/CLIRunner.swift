import Foundation
import RelQTesting

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

/// Runs the built `relq` binary.
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
    /// Uses ``Subprocess`` (posix_spawn + non-blocking reaping), so no pool thread is blocked.
    static func run(
        _ arguments: [String], url: String?, stdin: Data? = nil, environment: [String: String] = [:], timeout: Duration = .seconds(30)
    ) async throws -> CLIResult {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "REDIS_URL")
        if let url { env["REDIS_URL"] = url }
        for (key, value) in environment { env[key] = value }
        let start = ContinuousClock.now
        let output: Subprocess.Output
        do {
            output = try await Subprocess.run(try binaryPath(), arguments: arguments, environment: env, stdin: stdin, timeout: timeout)
        } catch let error as RelQTestingError where error.code == .timeout {
            throw CLIRunnerError.timedOut(arguments)
        }
        return CLIResult(status: output.status, stdout: output.stdoutText, stderr: output.stderrText, elapsed: ContinuousClock.now - start)
    }
}
