/// A Lua script from `lua/`, embedded in the binary: its source, SHA1 and the key parts it takes.
///
/// The values are generated from `lua/` into `Generated/LuaScripts+generated.swift` by
/// `scripts/generate-lua.sh`; a unit test fails when the two differ.
struct LuaScript: Sendable, Hashable {
    /// The file name without `.lua`.
    let name: String
    /// The SHA1 of the source, as `SCRIPT LOAD` returns it.
    let sha1: String
    /// The key parts (`pending`, `tasks`, …) the script expects in KEYS, in order.
    let keys: [String]
    /// Whether the script declares `flags=no-writes` and can run with `EVALSHA_RO`.
    let readOnly: Bool
    /// The Lua source, byte for byte as in `lua/`.
    let source: String

    init(name: String, sha1: String, keys: [String], readOnly: Bool, source: String) {
        self.name = name
        self.sha1 = sha1
        self.keys = keys
        self.readOnly = readOnly
        self.source = source
    }

    /// `SCRIPT LOAD <source>`.
    var loadCommand: RedisCommand { RedisCommand(["SCRIPT", "LOAD", source]) }
}

/// A script bound to concrete keys: the `EVALSHA sha numkeys key…` prefix is encoded once and
/// reused by every call, so a call only encodes its own arguments.
struct BoundScript: Sendable {
    let script: LuaScript
    let keys: [String]
    /// `EVALSHA`/`EVALSHA_RO`, sha, numkeys and the keys, RESP-encoded.
    let encodedPrefix: [UInt8]
    let prefixArgumentCount: Int

    init(_ script: LuaScript, keys: [String]) {
        self.script = script
        self.keys = keys
        var prefix: [UInt8] = []
        prefix += RESPWriter.encodeArgument(script.readOnly ? "EVALSHA_RO" : "EVALSHA")
        prefix += RESPWriter.encodeArgument(script.sha1)
        prefix += RESPWriter.encodeArgument(String(keys.count))
        for key in keys { prefix += RESPWriter.encodeArgument(key) }
        self.encodedPrefix = prefix
        self.prefixArgumentCount = 3 + keys.count
    }

    /// Builds the call with `argumentCount` arguments appended by `body`.
    func command(argumentCount: Int, capacity: Int = 64, _ body: (inout RESPWriter) -> Void) -> RedisCommand {
        var writer = RESPWriter(argumentCount: prefixArgumentCount + argumentCount, encodedPrefix: encodedPrefix, capacity: capacity)
        body(&writer)
        return RedisCommand(writer: writer, name: script.readOnly ? "EVALSHA_RO" : "EVALSHA", routingKey: keys.first)
    }
}
