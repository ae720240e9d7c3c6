import Foundation
import RelQ
import RelQTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scenarios 1 and 12: `relq consume` child processes crashed with SIGKILL, or stopped with SIGTERM.
@Suite(.serialized)
struct ReliabilityConsumerProcessTests {
    /// Scenario 1: N tasks, K consumers, one SIGKILLed every ~300 ms and restarted; an in-test
    /// sweeper (100 ms) recovers the expired leases (500 ms). Every task completes at least once.
    @Test(.timeLimit(.minutes(3)))
    func consumerCrashMidTask() async throws {
        let taskCount = Harness.soak ? 20_000 : 1_000
        let consumers = Harness.soak ? 4 : 3
        let work = Harness.soak ? "5ms" : "25ms"
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let completionLog = "\(directory)/completions.log"
        let server = try await RedisServer.start(.init(appendOnly: true))
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let name = "crash"
        let queue = try Harness.queue(client, name, .init(leaseTimeout: .milliseconds(500), maxAttempts: 1000))
        for start in stride(from: 0, to: taskCount, by: 1000) {
            let batch = (start..<min(start + 1000, taskCount)).map {
                ReliableQueue.NewTask(payload: Array("task \($0)".utf8), id: String(format: "t-%06d", $0))
            }
            _ = try await queue.enqueue(batch: batch)
        }

        let arguments = [
            "consume", name, "--url", server.url, "--concurrency", "4", "--lease", "500ms", "--max-attempts", "1000",
            "--work", work, "--completion-log", completionLog, "--grace", "100ms", "--log-level", "error",
        ]
        var processes = try (0..<consumers).map { _ in try ConsumerProcess.launch(arguments, outputPath: "\(directory)/consumer.out") }
        let sweeper = Sweeper(queues: [queue], configuration: .init(interval: .milliseconds(100)), logger: Harness.quietLogger)
        let sweeping = Task { try await sweeper.run() }
        defer { sweeping.cancel() }

        var kills = 0
        let started = ContinuousClock.now
        let deadline = started + (Harness.soak ? .seconds(600) : .seconds(90))
        do {
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(300))
                if Harness.completions(completionLog).count >= taskCount { break }
                let victim = kills % consumers
                processes[victim].signal(SIGKILL)
                await processes[victim].waitForExit(timeout: .seconds(5))
                kills += 1
                processes[victim] = try ConsumerProcess.launch(arguments, outputPath: "\(directory)/consumer.out")
            }
            // No more kills: what is left in working belongs to killed consumers and comes back by the sweeper.
            let drained = try await Harness.waitUntil(timeout: .seconds(30), interval: .milliseconds(50)) {
                let stats = try await queue.stats()
                return stats.pending + stats.working + stats.delayed == 0
                    && Harness.completions(completionLog).count >= taskCount
            }
            #expect(drained, "the queue did not drain")
        } catch {
            for process in processes { await process.terminate() }
            throw error
        }
        let elapsed = ContinuousClock.now - started
        for process in processes {
            process.signal(SIGTERM)
            await process.waitForExit(timeout: .seconds(5))
            await process.terminate()
        }

        let counts = Harness.completions(completionLog)
        let expected = Set((0..<taskCount).map { String(format: "t-%06d", $0) })
        let lost = expected.subtracting(counts.keys)
        let duplicates = counts.values.reduce(0) { $0 + $1 - 1 }
        let stats = try await queue.stats()
        Harness.report("1-consumer-crash", [
            ("tasks", taskCount), ("consumers", consumers), ("kills", kills), ("lost", lost.count),
            ("duplicates", duplicates), ("timed_out", stats.timedOutTotal), ("dead", stats.dead), ("seconds", elapsed),
        ])
        #expect(kills >= 3, "too few kills happened to exercise the scenario")
        #expect(lost.isEmpty, "lost tasks: \(lost.sorted().prefix(10))")
        #expect(stats.pending == 0 && stats.working == 0 && stats.delayed == 0)
        #expect(stats.dead == 0)
    }

    /// Scenario 12: SIGTERM to a consumer running long tasks (2 s work, 30 s lease, 200 ms grace):
    /// the unfinished tasks are back in pending when the process exits; a sweep finds no orphan.
    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownGivesTasksBack() async throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "graceful", .init(leaseTimeout: .seconds(30)))
        let taskCount = 4
        for index in 0..<taskCount { try await queue.enqueue(Array("long".utf8), id: "long-\(index)") }

        let consumer = try ConsumerProcess.launch(
            ["consume", "graceful", "--url", server.url, "--concurrency", "\(taskCount)", "--lease", "30s", "--work", "2s",
             "--grace", "200ms", "--completion-log", "\(directory)/completions.log"],
            outputPath: "\(directory)/consumer.out")
        defer { consumer.signal(SIGKILL) }
        let allTaken = try await Harness.waitUntil(timeout: .seconds(15)) { try await queue.stats().working == taskCount }
        try #require(allTaken, "the consumer never took the tasks; output: \(String(decoding: FileManager.default.contents(atPath: "\(directory)/consumer.out") ?? Data(), as: UTF8.self))")

        let signalled = ContinuousClock.now
        consumer.signal(SIGTERM)
        let exited = await consumer.waitForExit(timeout: .seconds(10))
        let exitTime = ContinuousClock.now - signalled
        try #require(exited, "the consumer did not exit after SIGTERM")
        let stats = try await queue.stats()
        let sweep = try await queue.sweepAll()
        let completed = Harness.completions("\(directory)/completions.log").count
        Harness.report("12-graceful-shutdown", [
            ("tasks", taskCount), ("exit_after", exitTime), ("exit_status", consumer.terminationStatus),
            ("pending_at_exit", stats.pending), ("working_at_exit", stats.working), ("completed", completed),
            ("orphans_swept", sweep.recovered),
        ])
        #expect(consumer.exitedNormally && consumer.terminationStatus == 0)
        #expect(exitTime < .seconds(2), "shutdown took \(exitTime) with a 200 ms grace period")
        #expect(stats.pending == taskCount, "the unfinished tasks are not back in pending")
        #expect(stats.working == 0)
        #expect(stats.requeuedTotal == taskCount)
        #expect(sweep.recovered == 0 && sweep.deadLettered == 0)
        #expect(completed == 0)
        // Given back without counting the attempt: the next delivery is still attempt 1.
        let again = try #require(try await queue.dequeueOne())
        #expect(again.attempt == 1)
    }

    /// The worker's fault options themselves: `--crash-after N` dies abruptly (137) right after the
    /// N-th logged completion, leaving it unreleased; `--fail-rate 1` requeues every attempt until
    /// the task is dead-lettered after `--max-attempts`.
    @Test(.timeLimit(.minutes(1)))
    func consumeFaultOptionsBehave() async throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await RedisServer.start()
        defer { server.stop() }
        let client = try Harness.client(server.url)
        defer { client.shutdown() }
        let crashing = try Harness.queue(client, "crashafter")
        _ = try await crashing.enqueue(batch: (0..<20).map { .init(payload: [1], id: "c-\($0)") })
        let log = "\(directory)/crash.log"
        let crasher = try ConsumerProcess.launch(
            ["consume", "crashafter", "--url", server.url, "--concurrency", "1", "--lease", "30s", "--work", "1ms", "--completion-log", log, "--crash-after", "5"],
            outputPath: "\(directory)/out")
        defer { crasher.signal(SIGKILL) }
        #expect(await crasher.waitForExit(timeout: .seconds(20)))
        let crashStats = try await crashing.stats()
        #expect(crasher.terminationStatus == 137)
        #expect(Harness.completions(log).count == 5)
        #expect(crashStats.releasedTotal == 4 && crashStats.working == 1)  // the 5th was logged, never released

        let failing = try Harness.queue(client, "failrate")
        try await failing.enqueue([1], id: "f-1")
        let failer = try ConsumerProcess.launch(
            ["consume", "failrate", "--url", server.url, "--fail-rate", "1", "--max-attempts", "2", "--retry-delay", "10ms", "--grace", "100ms"],
            outputPath: "\(directory)/out")
        defer { failer.signal(SIGKILL) }
        let dead = try await Harness.waitUntil(timeout: .seconds(20)) { try await failing.stats().dead == 1 }
        failer.signal(SIGTERM)
        #expect(await failer.waitForExit(timeout: .seconds(5)))
        let entry = try #require(try await failing.deadLetters().entries.first)
        Harness.report("consume-options", [
            ("crash_after_exit", crasher.terminationStatus), ("crash_logged", Harness.completions(log).count),
            ("fail_rate_dead", dead), ("dead_attempts", entry.attempts), ("last_error", "\"\(entry.lastError ?? "")\""),
        ])
        #expect(dead && entry.attempts == 2 && entry.lastError == "simulated failure (attempt 2)")
    }
}
