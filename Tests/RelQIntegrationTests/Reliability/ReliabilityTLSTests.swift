import Foundation
import RelQ
import RelQTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TLS through a client-side stunnel (hiredis 0.14 has no TLS): Redis with a TLS port and a
/// self-signed certificate made by openssl; RelQ talks plain RESP to the local stunnel, which
/// verifies the server certificate. Runs only where `stunnel4` (or `stunnel`) and `openssl` exist.
@Suite(.serialized)
struct ReliabilityTLSTests {
    static func which(_ names: [String]) -> String? {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
            for name in names where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    static let stunnel = which(["stunnel4", "stunnel"])
    static let openssl = which(["openssl"])

    /// A free loopback port (a proxy's listening port, released at once).
    static func freePort() throws -> Int {
        let probe = try FaultProxy.start(targetPort: 1)
        defer { probe.stop() }
        return probe.port
    }

    /// Runs a tool to completion, polling (never blocking a cooperative thread in `waitUntilExit`).
    static func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        try await Subprocess.run(executable, arguments: arguments, timeout: .seconds(30)).status
    }

    @Test(.enabled(if: stunnel != nil && openssl != nil), .timeLimit(.minutes(1)))
    func queueWorksThroughAStunnelClientTunnel() async throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let status = try await Self.run(Self.openssl!, [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(directory)/key.pem", "-out", "\(directory)/cert.pem",
            "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        try #require(status == 0, "openssl could not make a certificate")
        let tlsPort = try Self.freePort()
        let server = try await RedisServer.start(.init(extraArguments: [
            "--tls-port", String(tlsPort), "--tls-cert-file", "\(directory)/cert.pem", "--tls-key-file", "\(directory)/key.pem",
            "--tls-ca-cert-file", "\(directory)/cert.pem", "--tls-auth-clients", "no",
        ]))
        defer { server.stop() }
        let tunnelPort = try Self.freePort()
        let configuration = """
            foreground = yes
            pid =
            [redis]
            client = yes
            accept = 127.0.0.1:\(tunnelPort)
            connect = 127.0.0.1:\(tlsPort)
            CAfile = \(directory)/cert.pem
            verifyChain = yes
            checkHost = localhost

            """
        try configuration.write(toFile: "\(directory)/stunnel.conf", atomically: true, encoding: .utf8)
        let tunnel = try Subprocess.launch(Self.stunnel!, arguments: ["\(directory)/stunnel.conf"])
        defer { tunnel.send(SIGKILL) }
        let up = await Harness.waitUntil(timeout: .seconds(5)) {
            (try? RawRedis.command(port: tunnelPort, args: ["PING"], timeout: .milliseconds(500))) == .simple("PONG")
        }
        try #require(up, "stunnel did not come up")
        // Plain RESP on the TLS port is refused: only the tunnel speaks TLS.
        #expect((try? RawRedis.command(port: tlsPort, args: ["PING"], timeout: .milliseconds(500))) != .simple("PONG"))

        let client = try Harness.client("redis://127.0.0.1:\(tunnelPort)")
        defer { client.shutdown() }
        let queue = try Harness.queue(client, "tls")
        try await queue.enqueue(Array("secret".utf8), id: "tls-1")
        let delivery = try #require(try await queue.dequeueOne())
        #expect(delivery.payloadText == "secret")
        // Connections through the tunnel killed on the server: the client reconnects through it.
        _ = try server.command("CLIENT", "KILL", "TYPE", "normal")
        var released = false
        for _ in 0..<20 where !released {
            do {
                try await queue.release(delivery)
                released = true
            } catch let error as ReliableQueueError where error.code == .taskNotFound {
                released = true
            } catch {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(released)
        #expect(try await queue.stats().releasedTotal == 1)
        let tlsClients = (try server.command("INFO", "clients").string ?? "")
        tunnel.send(SIGKILL)
        await tunnel.waitForExit(timeout: .seconds(5))
        Harness.report("security-tls-stunnel", [("round_trip", "ok"), ("reconnect_after_client_kill", released), ("info_bytes", tlsClients.count)])
    }
}
