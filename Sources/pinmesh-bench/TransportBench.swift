import ArgumentParser
import Foundation
import Multiformats
import NIOCore
import NIOPosix
import SecureChannel
import Sodium
import Transport

/// `pinmesh-bench transport`: the secure transport on loopback, each figure beside its baseline
/// measured in the same run (plain TCP with the same framing; the record cipher in-process).
struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Bulk throughput, handshakes, connect latency and RPC rate of the secure transport on loopback.")

    @Option(help: "Bytes for the bulk runs.")
    var bulkBytes: Int = 1 << 30

    @Option(help: "Calls in flight at once.")
    var concurrency: Int = 64

    @Option(help: "Handshakes to time.")
    var handshakes: Int = 300

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        // Each side its own event loop, as two peers in two processes would have.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let secret = SecureBytes.random(count: 32)
        let server = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: serverGroup)
        server.server.register("sink") { _, _ in [] }
        server.server.register("echo") { _, p in p }
        let port = try await server.listen()
        let address = try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(server.localPeer)")
        let client = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group)
        _ = try await client.listen()
        let connection = try await client.dial(address)
        let cipher = connection.session.cipher

        // Bulk: `concurrency` lanes of 64 KiB calls into a sink.
        progress("bulk: \(bulkBytes) bytes encrypted (\(cipher))")
        let piece = RPCFrame.maxPayload
        let payload = [UInt8](SodiumRandom.bytes(piece))
        let calls = max(bulkBytes / piece, concurrency)
        let (bulkSeconds, bulkCPU) = try await measure {
            try await lanes(concurrency, total: calls) { _ = try await connection.call("sink", payload) }
        }
        let bulkMB = Double(calls * piece) / bulkSeconds / 1e6

        progress("bulk: plain TCP baseline")
        let plainMB = try await PlainTCP.throughput(client: group, server: serverGroup, bytes: calls * piece, piece: piece, concurrency: concurrency)

        progress("cipher baseline")
        let aead = try AEAD(cipher == .aes256GCM ? .aes256GCM : .chacha20Poly1305, key: SecureBytes.random(count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        let aeadMB = BenchClock.rate(bytes: 256 * piece, repeats: 3) {
            for _ in 0..<256 { _ = try! aead.seal(payload, nonce: nonce) }
        }

        progress("RPC round trips: \(concurrency) in flight")
        let small = [UInt8](repeating: 7, count: 64)
        let rpcCalls = 100_000
        let (rpcSeconds, _) = try await measure {
            try await lanes(concurrency, total: rpcCalls) { _ = try await connection.call("echo", small) }
        }

        progress("handshakes: \(handshakes)")
        var firstByte: [Double] = []
        let (handshakeSeconds, _) = try await measure {
            for _ in 0..<handshakes {
                let t = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group)
                let start = ContinuousClock.now
                let c = try await t.dial(address)
                _ = try await c.call("echo", [1])
                firstByte.append(BenchClock.seconds(since: start) * 1000)
                await c.close()
            }
        }
        firstByte.sort()

        await client.shutdown()
        await server.shutdown()
        try await group.shutdownGracefully()
        try await serverGroup.shutdownGracefully()

        BenchReport.print(scenario: "transport", fields: [
            ("bulk_mb_s", bulkMB), ("plain_mb_s", plainMB), ("ratio_vs_plain", bulkMB / plainMB),
            ("aead_mb_s", aeadMB), ("ratio_vs_aead", bulkMB / aeadMB),
            ("cpu_s_per_gb", bulkCPU / (Double(calls * piece) / 1e9)),
            ("handshakes_per_s", Double(handshakes) / handshakeSeconds),
            ("connect_first_byte_ms", firstByte[firstByte.count / 2]),
            ("rpc_per_s", Double(rpcCalls) / rpcSeconds),
        ], json: json, text: ["cipher": cipher.description])
    }

    /// Runs `body` `total` times on `count` concurrent lanes.
    func lanes(_ count: Int, total: Int, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<count {
                group.addTask {
                    var i = lane
                    while i < total {
                        try await body()
                        i += count
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Wall seconds and CPU seconds (user + system, whole process) of `body`.
    func measure(_ body: () async throws -> Void) async throws -> (Double, Double) {
        let cpu0 = Self.cpuSeconds()
        let start = ContinuousClock.now
        try await body()
        return (BenchClock.seconds(since: start), Self.cpuSeconds() - cpu0)
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    func progress(_ s: String) {
        FileHandle.standardError.write(Data("transport: \(s)...\n".utf8))
    }
}

extension BenchClock {
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
