import Testing

@testable import RelQ

@Suite("QueueKeys")
struct QueueKeysTests {
    @Test func keysCarryTheHashTag() {
        let keys = QueueKeys(queue: "emails")
        #expect(keys.key("pending") == "relq:{emails}:pending")
        #expect(keys.all == QueueKeys.parts.map { "relq:{emails}:\($0)" })
        #expect(keys.all.count == 12)
        for key in keys.all {
            // The hash tag is exactly the queue name: the first { … } of the key.
            let open = key.firstIndex(of: "{")!
            let close = key[open...].firstIndex(of: "}")!
            #expect(key[key.index(after: open)..<close] == "emails")
        }
    }

    @Test func partsInCanonicalOrder() {
        #expect(QueueKeys.parts == ["pending", "delayed", "leases", "dead", "tasks", "state", "errors", "meta", "rate", "signal", "working", "groups"])
    }

    @Test func scriptKeysFollowTheContractOrder() {
        let keys = QueueKeys(queue: "q")
        #expect(keys.keys(for: LuaScripts.enqueue) == ["pending", "delayed", "tasks", "state", "meta", "signal"].map { "relq:{q}:\($0)" })
        #expect(keys.keys(for: LuaScripts.dequeue) == ["pending", "delayed", "leases", "tasks", "state", "errors", "meta", "rate", "signal", "groups"].map { "relq:{q}:\($0)" })
        for script in LuaScripts.all {
            // Every script's parts are a subsequence of the canonical order.
            let indices = script.keys.map { QueueKeys.parts.firstIndex(of: $0) }
            #expect(!indices.contains(nil), "\(script.name): unknown part in \(script.keys)")
            let positions = indices.compactMap { $0 }
            #expect(positions == positions.sorted() && Set(positions).count == positions.count, "\(script.name): \(script.keys)")
        }
    }

    @Test func queueNameFromMetaKey() {
        #expect(QueueKeys.queueName(fromMetaKey: "relq:{emails}:meta") == "emails")
        #expect(QueueKeys.queueName(fromMetaKey: QueueKeys(queue: "a.b-c_1").key("meta")) == "a.b-c_1")
        #expect(QueueKeys.queueName(fromMetaKey: "relq:{emails}:tasks") == nil)
        #expect(QueueKeys.queueName(fromMetaKey: "relq:{}:meta") == nil)
        #expect(QueueKeys.queueName(fromMetaKey: "relq:{a}x}:meta") == nil)
        #expect(QueueKeys.queueName(fromMetaKey: "other:{q}:meta") == nil)
    }
}

@Suite("ReliableQueueError")
struct ReliableQueueErrorTests {
    static let allCodes: [ReliableQueueError.Code] = [
        .invalidArgument, .connectionFailed, .connectionLost, .timeout, .serverError, .authenticationFailed,
        .scriptFailed, .staleLease, .taskNotFound, .shutdown, .protocolError,
    ]

    @Test func codesAreDistinctAndNamed() {
        #expect(Set(Self.allCodes).count == Self.allCodes.count)
        #expect(Set(Self.allCodes.map(\.description)).count == Self.allCodes.count)
        #expect(ReliableQueueError.Code.staleLease.description == "staleLease")
        #expect(ReliableQueueError.Code.taskNotFound.description == "taskNotFound")
    }

    @Test func outcomeUnknownOnlyForTimeoutAndLostConnection() {
        for code in Self.allCodes {
            let expected = code == .timeout || code == .connectionLost
            #expect(ReliableQueueError(code, "x").isOutcomeUnknown == expected, "\(code)")
        }
    }

    @Test func redisErrorPrefix() {
        #expect(ReliableQueueError(.serverError, "WRONGTYPE Operation against a key").redisErrorPrefix == "WRONGTYPE")
        #expect(ReliableQueueError(.serverError, "ERR unknown command").redisErrorPrefix == "ERR")
        #expect(ReliableQueueError(.timeout, "WRONGTYPE").redisErrorPrefix == nil)
    }

    @Test func equalityAndDescription() {
        let error = ReliableQueueError(.staleLease, "stale")
        #expect(error == ReliableQueueError(.staleLease, "stale"))
        #expect(error != ReliableQueueError(.taskNotFound, "stale"))
        #expect(error.description == "staleLease: stale")
        #expect(error.file.hasSuffix("QueueKeysAndErrorTests.swift"))
    }

    @Test func scriptStatusMapping() {
        let script = LuaScripts.release
        #expect(script.error(forStatus: -1, taskID: "t", detail: "bad")?.code == .invalidArgument)
        #expect(script.error(forStatus: -1, taskID: "t", detail: "bad")?.message.contains("bad") == true)
        #expect(script.error(forStatus: -2, taskID: "t")?.code == .staleLease)
        #expect(script.error(forStatus: -3, taskID: "t")?.code == .taskNotFound)
        #expect(script.error(forStatus: -3, taskID: "t-42")?.message.contains("t-42") == true)
        for ok: Int64 in [1, 2, 3, 4, 5] { #expect(script.error(forStatus: ok, taskID: nil) == nil) }
    }

    @Test func scriptReplyShapes() throws {
        let script = LuaScripts.extend
        #expect(try script.elements(of: .array([.integer(1), .integer(99)])).count == 2)
        #expect(throws: ReliableQueueError(.staleLease, script.error(forStatus: -2, taskID: "x")!.message)) {
            try script.elements(of: .array([.integer(-2)]), taskID: "x")
        }
        for reply: RedisReply in [.status("OK"), .array([]), .array([.bulk(Array("x".utf8))]), .null] {
            do {
                _ = try script.elements(of: reply)
                Issue.record("accepted \(reply)")
            } catch let error as ReliableQueueError {
                #expect(error.code == .scriptFailed)
            }
        }
    }

    @Test func busyRepliesAreRetryable() {
        #expect(RedisClient.isRetryableBusy("LOADING Redis is loading the dataset in memory"))
        #expect(RedisClient.isRetryableBusy("BUSY Redis is busy running a script."))
        #expect(!RedisClient.isRetryableBusy("ERR unknown command"))
        #expect(!RedisClient.isRetryableBusy("NOSCRIPT No matching script."))
    }
}
