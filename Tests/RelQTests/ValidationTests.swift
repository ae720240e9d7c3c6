import Logging
import Testing

@testable import RelQ

@Suite("Validation")
struct ValidationTests {
    @Test(arguments: ["a", "Z", "0", "emails", "a.b_c-d", "A-z_0.9", String(repeating: "x", count: 128)])
    func validNames(name: String) throws {
        #expect(Validation.isValidName(name))
        try Validation.queueName(name)
        try Validation.taskID(name)
    }

    @Test(arguments: ["", "a}x", "{}", "{q}", "a b", "a:b", "é", "a\u{0}", "a\n", "a/b", "*", String(repeating: "x", count: 129)])
    func invalidNames(name: String) {
        #expect(!Validation.isValidName(name))
        for check in [Validation.queueName, Validation.taskID] {
            do {
                try check(name)
                Issue.record("accepted '\(name)'")
            } catch let error as ReliableQueueError {
                #expect(error.code == .invalidArgument)
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func durations() throws {
        #expect(try Validation.milliseconds(.zero, "delay") == 0)
        #expect(try Validation.milliseconds(.milliseconds(1500), "delay") == 1500)
        #expect(try Validation.milliseconds(.seconds(365 * 86_400), "delay") == 365 * 86_400 * 1000)
        for bad: Duration in [.milliseconds(-1), .nanoseconds(-1), .seconds(365 * 86_400) + .milliseconds(1), .seconds(Int64.max / 2)] {
            #expect(throws: ReliableQueueError.self, "\(bad)") { try Validation.milliseconds(bad, "delay") }
        }
        // A lease must be at least 1 ms.
        for bad: Duration in [.zero, .microseconds(999), .milliseconds(-5)] {
            #expect(throws: ReliableQueueError.self, "\(bad)") { try Validation.milliseconds(bad, "lease", minimum: .milliseconds(1)) }
        }
        #expect(try Validation.milliseconds(.milliseconds(1), "lease", minimum: .milliseconds(1)) == 1)
    }

    @Test func counts() throws {
        try Validation.count(1, "max", maximum: 1000)
        try Validation.count(1000, "max", maximum: 1000)
        for bad in [0, -1, 1001] {
            #expect(throws: ReliableQueueError.self) { try Validation.count(bad, "max", maximum: 1000) }
        }
    }
}

@Suite("ReliableQueue.Configuration")
struct QueueConfigurationTests {
    @Test func defaultsAsScriptArguments() throws {
        let validated = try ReliableQueue.Configuration().validated()
        #expect(validated.leaseMilliseconds == "30000")
        #expect(validated.maxAttempts == "5")
        #expect(validated.deadMaxCount == "10000")
        #expect(validated.deadMaxAge == String(14 * 86_400 * 1000))
        let unlimited = try ReliableQueue.Configuration(deadLetterMaxCount: nil, deadLetterMaxAge: nil).validated()
        #expect(unlimited.deadMaxCount == "")
        #expect(unlimited.deadMaxAge == "")
    }

    @Test func invalidConfigurations() {
        let bad: [(String, ReliableQueue.Configuration)] = [
            ("zero lease", .init(leaseTimeout: .zero)),
            ("negative lease", .init(leaseTimeout: .seconds(-1))),
            ("sub-ms lease", .init(leaseTimeout: .microseconds(10))),
            ("lease over a year", .init(leaseTimeout: .seconds(366 * 86_400))),
            ("maxAttempts 0", .init(maxAttempts: 0)),
            ("maxAttempts too big", .init(maxAttempts: 1_000_001)),
            ("negative payload", .init(maxPayloadBytes: -1)),
            ("payload over 512 MiB", .init(maxPayloadBytes: 512 << 20)),
            ("dead count 0", .init(deadLetterMaxCount: 0)),
            ("dead age 0", .init(deadLetterMaxAge: .zero)),
            ("replicas without timeout", .init(durability: .replicas(1, timeout: .zero))),
            ("negative replicas", .init(durability: .replicas(-1, timeout: .seconds(1)))),
        ]
        let client = try? RedisClient(configuration: RedisConfiguration(), logger: Logger(label: "t"))
        for (name, configuration) in bad {
            #expect(throws: ReliableQueueError.self, "\(name)") { try configuration.validated() }
            if let client {
                do {
                    _ = try ReliableQueue(name: "q", client: client, configuration: configuration, logger: Logger(label: "t"))
                    Issue.record("ReliableQueue accepted \(name)")
                } catch let error as ReliableQueueError {
                    #expect(error.code == .invalidArgument, "\(name)")
                } catch {
                    Issue.record("\(error)")
                }
            }
        }
        client?.shutdown()
    }

    @Test func queueNameIsValidatedAtInit() throws {
        let client = try RedisClient(configuration: RedisConfiguration(), logger: Logger(label: "t"))
        defer { client.shutdown() }
        for name in ["a}x", "{}", "", String(repeating: "q", count: 129)] {
            #expect(throws: ReliableQueueError.self, "\(name)") {
                _ = try ReliableQueue(name: name, client: client, logger: Logger(label: "t"))
            }
        }
        let queue = try ReliableQueue(name: String(repeating: "q", count: 128), client: client, logger: Logger(label: "t"))
        #expect(queue.name.count == 128)
    }
}
