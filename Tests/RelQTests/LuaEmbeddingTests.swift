import Foundation
import Testing

@testable import RelQ

/// Guards the embedding of `lua/*.lua` in `Generated/LuaScripts+generated.swift`.
///
/// Every failure means the generated file is stale: run `scripts/generate-lua.sh`.
@Suite("Lua embedding")
struct LuaEmbeddingTests {
    static let fix = "run scripts/generate-lua.sh to regenerate Sources/RelQ/Generated/LuaScripts+generated.swift"

    /// The repository root, from this file's path (`Tests/RelQTests/…`).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let luaDirectory = root.appendingPathComponent("lua").resolvingSymlinksInPath()

    struct NoLuaFiles: Error, CustomStringConvertible {
        var description: String { "no lua/*.lua found under \(LuaEmbeddingTests.luaDirectory.path)" }
    }

    /// `lua/*.lua`, sorted by name; throws when there is none (a wrong root must not pass).
    static func luaFiles() throws -> [URL] {
        let files = try FileManager.default.contentsOfDirectory(atPath: luaDirectory.path)
            .filter { $0.hasSuffix(".lua") }
            .sorted()
            .map { luaDirectory.appendingPathComponent($0) }
        guard !files.isEmpty else { throw NoLuaFiles() }
        return files
    }

    static func script(named name: String) -> LuaScript? {
        LuaScripts.all.first { $0.name == name }
    }

    @Test("the set of lua files equals LuaScripts.all")
    func fileSetMatches() throws {
        let files = try Self.luaFiles().map { $0.deletingPathExtension().lastPathComponent }
        #expect(files == LuaScripts.all.map(\.name), "lua/ and LuaScripts.all differ: \(Self.fix)")
        #expect(Set(LuaScripts.all.map(\.sha1)).count == LuaScripts.all.count, "duplicate sha1")
    }

    @Test("embedded source equals the file bytes")
    func sourcesAreByteExact() throws {
        for file in try Self.luaFiles() {
            let name = file.deletingPathExtension().lastPathComponent
            let script = try #require(Self.script(named: name), "lua/\(name).lua is not embedded: \(Self.fix)")
            let bytes = try Data(contentsOf: file)
            #expect(Data(script.source.utf8) == bytes, "lua/\(name).lua differs from the embedded source: \(Self.fix)")
        }
    }

    @Test("keys line and read-only shebang match the files")
    func keysAndFlagsMatch() throws {
        for file in try Self.luaFiles() {
            let name = file.deletingPathExtension().lastPathComponent
            let script = try #require(Self.script(named: name), "lua/\(name).lua is not embedded: \(Self.fix)")
            let text = try String(contentsOf: file, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let keyLines = lines.filter { $0.hasPrefix("-- KEYS:") }
            #expect(keyLines.count == 1, "lua/\(name).lua needs exactly one '-- KEYS:' line")
            let keys = keyLines.first.map {
                $0.dropFirst("-- KEYS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            } ?? []
            #expect(script.keys == keys, "keys of \(name) differ: \(Self.fix)")
            let readOnly = lines.first == "#!lua flags=no-writes"
            #expect(script.readOnly == readOnly, "readOnly of \(name) differs: \(Self.fix)")
        }
    }

    @Test("sha1 equals sha1sum of the file (what SCRIPT LOAD returns)")
    func sha1Matches() throws {
        let sha1sum = URL(fileURLWithPath: "/usr/bin/sha1sum")
        guard FileManager.default.isExecutableFile(atPath: sha1sum.path) else {
            Issue.record("/usr/bin/sha1sum not found: cannot check the embedded sha1")
            return
        }
        let files = try Self.luaFiles()
        let process = Process()
        process.executableURL = sha1sum
        process.arguments = files.map(\.path)
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // "<sha1>  <path>" per line, in argument order.
        let shas = String(decoding: output, as: UTF8.self).split(separator: "\n").map { String($0.prefix(40)) }
        #expect(shas.count == files.count)
        for (file, sha) in zip(files, shas) {
            let name = file.deletingPathExtension().lastPathComponent
            #expect(Self.script(named: name)?.sha1 == sha, "sha1 of lua/\(name).lua differs: \(Self.fix)")
        }
    }

    @Test("property names are the lowerCamelCase file names")
    func propertyNames() {
        #expect(LuaScripts.deadList.name == "dead_list")
        #expect(LuaScripts.enqueue.name == "enqueue")
        #expect(LuaScripts.stats.readOnly)
        #expect(!LuaScripts.dequeue.readOnly)
    }
}
