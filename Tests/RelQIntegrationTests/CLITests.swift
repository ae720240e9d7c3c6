import Foundation
import Logging
import RelQ
import RelQTesting
import Testing

/// End-to-end tests of the `relq` binary against a private redis-server.
@Suite(.serialized)
struct CLITests {
    private func relq(_ arguments: String..., url: String?, stdin: Data? = nil, timeout: Duration = .seconds(30)) async throws -> CLIResult {
        try await CLIRunner.run(arguments, url: url, stdin: stdin, timeout: timeout)
    }

    private func makeQueue(_ server: RedisServer, _ name: String, configuration: ReliableQueue.Configuration = .init()) throws -> ReliableQueue {
        var logger = Logger(label: "cli-tests")
        logger.logLevel = .warning
        let client = try RedisClient(url: server.url, logger: logger)
        return try ReliableQueue(name: name, client: client, configuration: configuration, logger: logger)
    }

    private func decodeStats(_ result: CLIResult) throws -> [QueueStats] {
        try JSONDecoder().decode([QueueStats].self, from: Data(result.stdout.utf8))
    }

    @Test func helpListsSubcommandsAndExamples() async throws {
        let root = try await relq("--help", url: nil)
        #expect(root.status == 0, "\(root)")
        for name in ["sweep", "stats", "dead", "enqueue", "peek", "pause", "resume", "delete-queue", "demo", "bench", "consume"] {
            #expect(root.stdout.contains(name), "\(name) missing from help")
        }
        for sub in [["sweep"], ["stats"], ["dead", "list"], ["dead", "purge"], ["enqueue"], ["peek"], ["pause"], ["delete-queue"], ["demo"]] {
            let help = try await CLIRunner.run(sub + ["--help"], url: nil)
            #expect(help.status == 0 && help.stdout.contains("EXAMPLES"), "\(sub): \(help)")
        }
    }

    @Test func usageErrorsExitTwo() async throws {
        let noQueue = try await relq("sweep", url: "redis://127.0.0.1:1")
        #expect(noQueue.status == 2, "\(noQueue)")
        for bad in ["-1s", "nan", "inf", "400d", "abc"] {
            let result = try await relq("sweep", "q", "--interval", bad, url: "redis://127.0.0.1:1")
            #expect(result.status == 2, "\(bad): \(result)")
        }
        let badURL = try await relq("stats", "--url", "http://x", url: nil)
        #expect(badURL.status == 2, "\(badURL)")
        #expect(badURL.stderr.contains("redis://"), "\(badURL)")
        #expect(!badURL.stderr.contains("Stack"), "\(badURL)")
        let badEnvURL = try await relq("stats", url: "http://x")
        #expect(badEnvURL.status == 2 && badEnvURL.stderr.contains("REDIS_URL"), "\(badEnvURL)")
        let badName = try await relq("enqueue", "bad name!", "x", url: "redis://127.0.0.1:1")
        #expect(badName.status == 2, "\(badName)")
    }

    @Test func unreachableServerExitsOneQuickly() async throws {
        let server = try await RedisServer.start()
        let port = server.port
        server.stop()
        let result = try await relq("stats", "--url", "redis://:secretpw@127.0.0.1:\(port)", url: nil, timeout: .seconds(15))
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("could not connect"), "\(result)")
        #expect(!result.stderr.contains("secretpw"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(result.elapsed < .seconds(5), "\(result.elapsed)")
    }

    @Test func missingQueueExitsThree() async throws {
        try await RedisServer.withServer { server in
            for arguments in [["stats", "nope"], ["peek", "nope"], ["pause", "nope"], ["resume", "nope"], ["dead", "list", "nope"],
                              ["dead", "show", "nope", "x"], ["delete-queue", "nope", "--yes"], ["sweep", "nope", "--once"]] {
                let result = try await CLIRunner.run(arguments, url: server.url)
                #expect(result.status == 3, "\(arguments): \(result)")
                #expect(result.stderr.contains("does not exist"), "\(arguments): \(result)")
            }
            let empty = try await relq("stats", url: server.url)
            #expect(empty.status == 0 && empty.stdout.contains("no queues"), "\(empty)")
            let emptyJSON = try await relq("stats", "--json", url: server.url)
            #expect(try decodeStats(emptyJSON).isEmpty)
        }
    }

    @Test func enqueuePeekAndStats() async throws {
        try await RedisServer.withServer { server in
            let first = try await relq("enqueue", "jobs", "hello world", url: server.url)
            #expect(first.status == 0 && first.stdout.hasSuffix("enqueued\n"), "\(first)")
            let withID = try await relq("enqueue", "jobs", "second", "--id", "job-2", url: server.url)
            #expect(withID.status == 0 && withID.stdout == "job-2 enqueued\n", "\(withID)")
            let again = try await relq("enqueue", "jobs", "second", "--id", "job-2", url: server.url)
            #expect(again.status == 0 && again.stdout == "job-2 duplicate (already in the queue)\n", "\(again)")
            let piped = try await relq("enqueue", "jobs", "--stdin", "--id", "job-3", url: server.url, stdin: Data("from stdin".utf8))
            #expect(piped.status == 0, "\(piped)")
            let delayed = try await relq("enqueue", "jobs", "later", "--delay", "1m", "--lease", "5s", "--max-attempts", "2", url: server.url)
            #expect(delayed.status == 0, "\(delayed)")
            let noPayload = try await relq("enqueue", "jobs", url: server.url)
            #expect(noPayload.status == 2, "\(noPayload)")

            let peek = try await relq("peek", "jobs", url: server.url)
            #expect(peek.status == 0, "\(peek)")
            #expect(peek.stdout.contains("hello world") && peek.stdout.contains("job-2") && peek.stdout.contains("from stdin"), "\(peek)")
            #expect(peek.stdout.contains("3 of 3 pending"), "\(peek)")
            let peekJSON = try await relq("peek", "jobs", "--json", "--limit", "2", url: server.url)
            let entries = try JSONSerialization.jsonObject(with: Data(peekJSON.stdout.utf8)) as? [[String: Any]]
            #expect(entries?.count == 2)
            #expect(entries?.first?["payload"] as? String == "hello world")

            let json = try await relq("stats", "jobs", "--json", url: server.url)
            #expect(json.status == 0, "\(json)")
            let stats = try #require(try decodeStats(json).first)
            #expect(stats.queue == "jobs" && stats.pending == 3 && stats.delayed == 1 && stats.enqueuedTotal == 4)
            #expect(stats.oldestPendingAgeMilliseconds != nil)

            let table = try await relq("stats", url: server.url)
            #expect(table.status == 0 && table.stdout.contains("QUEUE") && table.stdout.contains("jobs"), "\(table)")

            let prometheus = try await relq("stats", "--prometheus", url: server.url)
            #expect(prometheus.status == 0, "\(prometheus)")
            for line in [
                "# TYPE relq_queue_depth gauge", "relq_queue_depth{queue=\"jobs\",state=\"pending\"} 3",
                "relq_queue_depth{queue=\"jobs\",state=\"delayed\"} 1", "# TYPE relq_tasks_total counter",
                "relq_tasks_total{queue=\"jobs\",event=\"enqueued\"} 4", "# HELP relq_queue_oldest_pending_age_seconds",
                "relq_queue_paused{queue=\"jobs\"} 0", "# TYPE relq_queue_working_limit gauge",
            ] {
                #expect(prometheus.stdout.contains(line + (line.hasPrefix("#") ? "" : "\n")), "missing \(line)\n\(prometheus.stdout)")
            }
        }
    }

    @Test func pauseResumeAndDeleteQueue() async throws {
        try await RedisServer.withServer { server in
            #expect(try await relq("enqueue", "pq", "x", url: server.url).status == 0)
            let pause = try await relq("pause", "pq", url: server.url)
            #expect(pause.status == 0, "\(pause)")
            #expect(try decodeStats(await relq("stats", "pq", "--json", url: server.url)).first?.paused == true)
            #expect(try await relq("stats", "--prometheus", url: server.url).stdout.contains("relq_queue_paused{queue=\"pq\"} 1\n"))
            let resume = try await relq("resume", "pq", url: server.url)
            #expect(resume.status == 0, "\(resume)")
            #expect(try decodeStats(await relq("stats", "pq", "--json", url: server.url)).first?.paused == false)

            let queue = try makeQueue(server, "pq")
            try await queue.setLimits(QueueLimits(workingLimit: 5, rateLimit: 100))
            let limited = try await relq("stats", "--prometheus", url: server.url)
            #expect(limited.stdout.contains("relq_queue_working_limit{queue=\"pq\"} 5\n"), "\(limited)")
            #expect(limited.stdout.contains("relq_queue_rate_limit{queue=\"pq\"} 100\n"), "\(limited)")
            #expect(try decodeStats(await relq("stats", "--json", url: server.url)).first?.workingLimit == 5)
            let table = try await relq("stats", "pq", url: server.url)
            #expect(table.stdout.contains("working≤5,rate 100/1s"), "\(table)")

            let refused = try await relq("delete-queue", "pq", url: server.url)
            #expect(refused.status == 2 && refused.stderr.contains("--yes"), "\(refused)")
            let deleted = try await relq("delete-queue", "pq", "--yes", url: server.url)
            #expect(deleted.status == 0, "\(deleted)")
            #expect(try await relq("stats", "pq", url: server.url).status == 3)
        }
    }

    @Test func deadLetterCommands() async throws {
        try await RedisServer.withServer { server in
            let queue = try makeQueue(server, "dq", configuration: .init(maxAttempts: 1))
            try await queue.enqueue(text: "first payload", id: "d1")
            try await queue.enqueue([0xff, 0x00, 0x01], id: "d2")
            try await queue.enqueue(text: "third", id: "d3")
            for delivery in try await queue.dequeue(max: 3).deliveries {
                #expect(try await queue.requeue(delivery, error: "boom \(delivery.id)") == .deadLettered)
            }

            let list = try await relq("dead", "list", "dq", url: server.url)
            #expect(list.status == 0 && list.stdout.contains("d1") && list.stdout.contains("boom d1") && list.stdout.contains("of 3"), "\(list)")
            let listJSON = try await relq("dead", "list", "dq", "--json", "--limit", "2", url: server.url)
            let page = try JSONSerialization.jsonObject(with: Data(listJSON.stdout.utf8)) as? [String: Any]
            #expect(page?["total"] as? Int == 3)
            #expect((page?["entries"] as? [Any])?.count == 2)

            let show = try await relq("dead", "show", "dq", "d1", url: server.url)
            #expect(show.status == 0 && show.stdout.contains("first payload") && show.stdout.contains("boom d1"), "\(show)")
            #expect(show.stdout.contains("attempts:    1"), "\(show)")
            let showBinary = try await relq("dead", "show", "dq", "d2", url: server.url)
            #expect(showBinary.status == 0 && showBinary.stdout.contains("ff0001"), "\(showBinary)")
            let showMissing = try await relq("dead", "show", "dq", "nope", url: server.url)
            #expect(showMissing.status == 3, "\(showMissing)")

            let retry = try await relq("dead", "retry", "dq", "d1", url: server.url)
            #expect(retry.status == 0 && retry.stdout.contains("retried 1"), "\(retry)")
            let retryMissing = try await relq("dead", "retry", "dq", "d1", url: server.url)
            #expect(retryMissing.status == 3, "\(retryMissing)")
            #expect(try await queue.stats().pending == 1)

            let refused = try await relq("dead", "purge", "dq", "d2", url: server.url)
            #expect(refused.status == 2 && refused.stderr.contains("--yes"), "\(refused)")
            let purge = try await relq("dead", "purge", "dq", "d2", "--yes", url: server.url)
            #expect(purge.status == 0 && purge.stdout.contains("purged 1"), "\(purge)")
            let purgeAll = try await relq("dead", "purge", "dq", "--all", "--yes", url: server.url)
            #expect(purgeAll.status == 0 && purgeAll.stdout.contains("purged 1"), "\(purgeAll)")
            #expect(try await queue.stats().dead == 0)
            let bothForms = try await relq("dead", "retry", "dq", "d1", "--all", url: server.url)
            #expect(bothForms.status == 2, "\(bothForms)")
        }
    }

    @Test func sweepOnceRecoversAnExpiredLease() async throws {
        try await RedisServer.withServer { server in
            let queue = try makeQueue(server, "sq", configuration: .init(leaseTimeout: .milliseconds(100)))
            try await queue.enqueue(text: "stuck", id: "s1")
            let delivery = try #require(try await queue.dequeueOne())
            #expect(delivery.id == "s1")
            try await Task.sleep(for: .milliseconds(250))
            let sweep = try await relq("sweep", "sq", "--once", url: server.url)
            #expect(sweep.status == 0 && sweep.stdout.contains("sq: recovered 1"), "\(sweep)")
            let stats = try await queue.stats()
            #expect(stats.pending == 1 && stats.working == 0 && stats.timedOutTotal == 1)
            let all = try await relq("sweep", "--all", "--once", url: server.url)
            #expect(all.status == 0 && all.stdout.contains("sq: recovered 0"), "\(all)")
        }
    }

    @Test func sweepRunsUntilSIGTERM() async throws {
        try await RedisServer.withServer { server in
            let queue = try makeQueue(server, "lq", configuration: .init(leaseTimeout: .milliseconds(100)))
            try await queue.enqueue(text: "stuck", id: "s1")
            _ = try #require(try await queue.dequeueOne())
            let process = try Subprocess.launch(try CLIRunner.binaryPath(), arguments: ["sweep", "--all", "--interval", "100ms", "--url", server.url])
            var recovered = false
            for _ in 0..<50 where !recovered {
                try await Task.sleep(for: .milliseconds(100))
                recovered = try await queue.stats().timedOutTotal == 1
            }
            #expect(recovered)
            process.send(SIGTERM)
            let ended = await process.waitForExit(timeout: .seconds(5))
            #expect(ended?.code == 0, "relq sweep must exit 0 on SIGTERM, got \(String(describing: ended))")
            if ended == nil { process.send(SIGKILL) }
        }
    }

    @Test func statsWatchRedrawsUntilSIGINT() async throws {
        try await RedisServer.withServer { server in
            #expect(try await relq("enqueue", "wq", "x", url: server.url).status == 0)
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("relq-watch-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: output) }
            let process = try Subprocess.launch(
                try CLIRunner.binaryPath(), arguments: ["stats", "--watch", "--interval", "100ms", "--url", server.url],
                stdoutPath: output.path, stderrPath: "/dev/null")
            try await Task.sleep(for: .milliseconds(700))
            process.send(SIGINT)
            let ended = await process.waitForExit(timeout: .seconds(5))
            #expect(ended?.code == 0, "relq stats --watch must exit 0 on SIGINT, got \(String(describing: ended))")
            if ended == nil { process.send(SIGKILL) }
            let text = String(decoding: try Data(contentsOf: output), as: UTF8.self)
            #expect(text.components(separatedBy: "\u{1B}[2J").count >= 3, "\(text)")
            #expect(text.contains("wq"))
        }
    }

    @Test func demoLosesNothingAndRecoversTheCrashedConsumersTasks() async throws {
        try await RedisServer.withServer { server in
            let demo = try await relq("demo", "--tasks", "300", url: server.url, timeout: .seconds(40))
            #expect(demo.status == 0, "\(demo)")
            #expect(demo.stdout.range(of: #"lost:\s+0\n"#, options: .regularExpression) != nil, "\(demo)")
            let recovered = demo.stdout.firstMatch(of: /recovered:\s+(\d+)/).flatMap { Int($0.1) } ?? 0
            #expect(recovered >= 1, "\(demo)")
            #expect(demo.stdout.contains("result:          OK"), "\(demo)")
            // The demo deletes its queue.
            let remaining = try decodeStats(await relq("stats", "--json", url: server.url))
            #expect(remaining.isEmpty, "the demo must delete its queue: \(remaining)")
        }
    }

    /// `relq bench --repeat N`: every figure is the median of N rounds, with its range and the
    /// rounds that met its goal; a bad count is a usage error.
    @Test func benchRepeatReportsMediansOverRounds() async throws {
        let bad = try await relq("bench", "--repeat", "0", url: "redis://127.0.0.1:1")
        #expect(bad.status == 2, "\(bad)")
        try await RedisServer.withServer { server in
            let run = try await relq(
                "bench", "--quick", "--repeat", "2", "--scenario", "cost", "--seconds", "0.2", "--json",
                url: server.url, timeout: .seconds(180))
            #expect(run.status == 0, "\(run)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            func number(_ object: [String: Any], _ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
            #expect(number(report, "rounds") == 2)
            let results = try #require(report["results"] as? [[String: Any]])
            #expect(results.count == 8, "one result per cost metric, not one per round: \(results.map { $0["metric"] ?? "" })")
            for result in results {
                let metric = result["metric"] as? String ?? "?"
                let value = try #require(number(result, "value"), "\(metric)")
                let low = try #require(number(result, "min"), "\(metric)")
                let high = try #require(number(result, "max"), "\(metric)")
                #expect(number(result, "samples") == 2, "\(metric)")
                #expect(low <= value && value <= high, "\(metric): \(low) <= \(value) <= \(high)")
                // Two rounds: the median is their mean.
                #expect(abs(value - (low + high) / 2) <= 1e-9 * Swift.max(1, abs(value)), "\(metric)")
                if result["goal"] != nil, result["goal_met"] != nil {
                    let rounds = try #require(number(result, "goal_met_rounds"), "\(metric)")
                    #expect([0, 1, 2].contains(rounds), "\(metric)")
                }
            }
        }
    }
}
