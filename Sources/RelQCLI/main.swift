import RelQ
import Logging
import Foundation

let logger = Logger(label: "scratch")
let client = try RedisClient(url: "redis://127.0.0.1:6500", logger: logger)
let r = try await client.send("SET", "k", "v")
print(r)
print(try await client.send(RedisCommand(bytes: [Array("SET".utf8), Array("bin".utf8), [0, 255, 0, 1]])))
print(try await client.send("GET", "bin"))
do { _ = try await client.send("INCR", "k") } catch { print("error ok:", error) }
let n = Int(CommandLine.arguments.dropFirst().first ?? "20000")!
for callers in [1, 16, 64, 256] {
    let start = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        for c in 0..<callers {
            group.addTask {
                for i in 0..<(n / callers) { _ = try? await client.send("SET", "key:\(c)", "v\(i)") }
            }
        }
    }
    let elapsed = ContinuousClock.now - start
    print("callers \(callers): \(Int(Double(n) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))) ops/s")
}
