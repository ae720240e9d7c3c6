import Testing

@testable import RelQ

@Suite("RESP encoding of RedisCommand")
struct RedisCommandTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func textArguments() {
        let command = RedisCommand(["SET", "key", "value"])
        #expect(command.encoded == bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"))
        #expect(command.name == "SET")
        #expect(command.routingKey == nil)
    }

    @Test func nameIsUppercasedAndRoutingKeyKept() {
        let command = RedisCommand(["get", "k"], routingKey: "k")
        #expect(command.name == "GET")
        #expect(command.routingKey == "k")
        #expect(command.encoded == bytes("*2\r\n$3\r\nget\r\n$1\r\nk\r\n"))
    }

    @Test func emptyAndMultibyteArguments() {
        let command = RedisCommand(["ECHO", "", "é€"])
        #expect(command.encoded == bytes("*3\r\n$4\r\nECHO\r\n$0\r\n\r\n$5\r\né€\r\n"))
    }

    @Test func argumentsWithCRLFAreLengthPrefixedNotSplit() {
        let command = RedisCommand(["SET", "k", "a\r\nFLUSHALL\r\n"])
        #expect(command.encoded == bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$13\r\na\r\nFLUSHALL\r\n\r\n"))
    }

    @Test func binaryArguments() {
        let payload: [UInt8] = [0x00, 0xFF, 0x0D, 0x0A, 0xC3, 0x28, 0x00]
        let command = RedisCommand(bytes: [bytes("SET"), bytes("k"), payload, []])
        var expected = bytes("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$7\r\n")
        expected += payload
        expected += bytes("\r\n$0\r\n\r\n")
        #expect(command.encoded == expected)
        #expect(command.name == "SET")
    }

    @Test func largeBinaryArgumentLength() {
        let payload = [UInt8](repeating: 0xAB, count: 1 << 20)
        let command = RedisCommand(bytes: [bytes("SET"), bytes("k"), payload])
        let header = bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n")
        #expect(Array(command.encoded.prefix(header.count)) == header)
        #expect(command.encoded.count == header.count + payload.count + 2)
        #expect(command.encoded.suffix(2) == [13, 10])
    }

    @Test func integerArguments() {
        var writer = RESPWriter(argumentCount: 4)
        writer.append("X")
        writer.append(0)
        writer.append(-12)
        writer.append(Int.max)
        #expect(writer.bytes == bytes("*4\r\n$1\r\nX\r\n$1\r\n0\r\n$3\r\n-12\r\n$19\r\n9223372036854775807\r\n"))
    }

    @Test func boundScriptPrefix() {
        let keys = QueueKeys(queue: "q").keys(for: LuaScripts.release)
        let bound = BoundScript(LuaScripts.release, keys: keys)
        let command = bound.command(argumentCount: 3) { writer in
            writer.append(1)
            writer.append("id-1")
            writer.append(7)
        }
        var expected = "*\(3 + keys.count + 3)\r\n$7\r\nEVALSHA\r\n$40\r\n\(LuaScripts.release.sha1)\r\n$\(String(keys.count).count)\r\n\(keys.count)\r\n"
        for key in keys { expected += "$\(key.utf8.count)\r\n\(key)\r\n" }
        expected += "$1\r\n1\r\n$4\r\nid-1\r\n$1\r\n7\r\n"
        #expect(command.encoded == bytes(expected))
        #expect(command.name == "EVALSHA")
        #expect(command.routingKey == "relq:{q}:pending")
    }

    @Test func readOnlyScriptsUseEvalshaRO() {
        let bound = BoundScript(LuaScripts.stats, keys: QueueKeys(queue: "q").keys(for: LuaScripts.stats))
        let command = bound.command(argumentCount: 0) { _ in }
        #expect(command.name == "EVALSHA_RO")
        #expect(command.encoded.starts(with: bytes("*12\r\n$10\r\nEVALSHA_RO\r\n")))
    }
}

@Suite("RedisReply accessors")
struct RedisReplyTests {
    @Test func accessors() {
        #expect(RedisReply.integer(42).int == 42)
        #expect(RedisReply.bulk(Array("17".utf8)).int == 17)
        #expect(RedisReply.bulk(Array("x".utf8)).int == nil)
        #expect(RedisReply.status("OK").string == "OK")
        #expect(RedisReply.integer(-3).string == "-3")
        #expect(RedisReply.bulk([0, 0xFF]).bytes == [0, 0xFF])
        #expect(RedisReply.error("ERR x").string == nil)
        #expect(RedisReply.null.isNull)
        #expect(!RedisReply.bulk([]).isNull)
        #expect(RedisReply.array([.integer(1), .null]).array?.count == 2)
        #expect(RedisReply.integer(1).array == nil)
    }
}
