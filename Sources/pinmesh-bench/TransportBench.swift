import ArgumentParser
import Foundation
import Multiformats
import NIOConcurrencyHelpers
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

    @Option(help: "Small messages (64-256 bytes) for each small-message run.")
    var smallMessages: Int = 1_000_000

    @Option(help: "The stream window in bytes (both sides).")
    var window: Int = 512 * 1024

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        // Each side its own event loop, as two peers in two processes would have.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let secret = SecureBytes.random(count: 32)
        func pair(coalesce: Bool) async throws -> (SecureTransport, SecureTransport, PeerConnection, Multiaddr) {
            let server = SecureTransport(
                settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: serverGroup,
                streamWindow: window, coalesce: coalesce)
            server.server.register("echo") { _, p in p }
            server.server.registerStream("sink") { stream in while try await stream.read() != nil {} }
            let port = try await server.listen()
            let address = try Multiaddr("/ip4/127.0.0.1/tcp/\(port)/p2p/\(server.localPeer)")
            let client = SecureTransport(
                settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group,
                streamWindow: window, coalesce: coalesce)
            _ = try await client.listen()
            return (server, client, try await client.dial(address), address)
        }
        let (server, client, connection, address) = try await pair(coalesce: true)
        let cipher = connection.session.cipher

        // Bulk: one stream, written in 1 MiB pieces, read and dropped by the peer.
        progress("bulk: \(bulkBytes) bytes on one stream (\(cipher))")
        let piece = 1 << 20
        let payload = [UInt8](SodiumRandom.bytes(piece))
        let pieces = max(bulkBytes / piece, 1)
        let (bulkSeconds, bulkCPU) = try await measure {
            let stream = try await connection.openStream("sink")
            for _ in 0..<pieces { try await stream.write(payload) }
            stream.finish()
            // The sink ends its side once it read everything.
            while try await stream.read() != nil {}
        }
        let bulkMB = Double(pieces * piece) / bulkSeconds / 1e6

        progress("bulk: plain TCP baseline")
        let plainPiece = 65536
        let plainMB = try await PlainTCP.throughput(
            client: group, server: serverGroup, bytes: pieces * piece, piece: plainPiece, concurrency: concurrency)

        progress("cipher baseline")
        let aead = try AEAD(cipher == .aes256GCM ? .aes256GCM : .chacha20Poly1305, key: SecureBytes.random(count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        let record = Array(payload.prefix(65536))
        let aeadMB = BenchClock.rate(bytes: 256 * record.count, repeats: 3) {
            for _ in 0..<256 { _ = try! aead.seal(record, nonce: nonce) }
        }

        progress("RPC round trips: \(concurrency) in flight")
        let small = [UInt8](repeating: 7, count: 64)
        let rpcCalls = 100_000
        let (rpcSeconds, _) = try await measure {
            try await lanes(concurrency, total: rpcCalls) { _ = try await connection.call("echo", small) }
        }

        // Small messages, 64 to 256 bytes: one-way over TCP, with and without coalescing.
        let messages = (0..<1024).map { i in [UInt8](repeating: UInt8(i & 0xff), count: 64 + (i * 37) % 193) }
        progress("small messages over TCP: \(smallMessages), coalesced")
        let tcp = try await smallOverTCP(server: server, connection: connection, messages: messages)
        let latency = try await roundTrip(connection)
        let (plainServer, plainClient, plainConnection, _) = try await pair(coalesce: false)
        progress("small messages over TCP: \(smallMessages), one record each")
        let tcpPlain = try await smallOverTCP(server: plainServer, connection: plainConnection, messages: messages)
        let latencyPlain = try await roundTrip(plainConnection)
        await plainClient.shutdown()
        await plainServer.shutdown()

        progress("small messages over UDP: \(smallMessages / 2)")
        let udp = try await smallOverUDP(server: server, client: client, connection: connection, messages: messages)

        progress("handshake state machines alone (the crypto baseline)")
        let crypto = handshakeCrypto(secret: secret)

        progress("handshakes: \(handshakes)")
        var firstByte: [Double] = []
        let (handshakeSeconds, _) = try await measure {
            firstByte = try await connectTimes(to: address) {
                SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group)
            }
        }

        // Reconnects: one client identity dialling again and again (both sides know each
        // other's identity binding by then, so neither checks the signature again).
        progress("reconnects: \(handshakes)")
        let returning = SecureTransport(settings: HandshakeSettings(clusterSecret: secret, identity: .generate()), group: group)
        let again = try await connectTimes(to: address) { returning }

        await client.shutdown()
        await server.shutdown()
        try await group.shutdownGracefully()
        try await serverGroup.shutdownGracefully()

        BenchReport.print(scenario: "transport", fields: [
            ("bulk_mb_s", bulkMB), ("plain_mb_s", plainMB), ("ratio_vs_plain", bulkMB / plainMB),
            ("aead_mb_s", aeadMB), ("ratio_vs_aead", bulkMB / aeadMB),
            ("cpu_s_per_gb", bulkCPU / (Double(pieces * piece) / 1e9)),
            ("handshakes_per_s", Double(handshakes) / handshakeSeconds),
            ("connect_first_byte_ms", firstByte[firstByte.count / 2]),
            ("reconnect_first_byte_ms", again[again.count / 2]),
            ("handshake_crypto_ms", crypto),
            ("small_msgs_per_s_tcp", tcp.rate), ("small_msgs_per_cpu_s_tcp", tcp.perCPU),
            ("small_msgs_per_s_tcp_uncoalesced", tcpPlain.rate), ("small_msgs_per_cpu_s_tcp_uncoalesced", tcpPlain.perCPU),
            ("small_rtt_us", latency), ("small_rtt_us_uncoalesced", latencyPlain),
            ("small_msgs_per_s_udp", udp.rate), ("small_msgs_per_cpu_s_udp", udp.perCPU), ("udp_loss", udp.loss),
            ("rpc_per_s", Double(rpcCalls) / rpcSeconds),
        ], json: json, text: ["cipher": cipher.description])
    }

    /// One-way messages in rounds of 10,000, each round closed by a call the receiver answers
    /// after the round's messages (one connection keeps their order): messages per wall second
    /// and per CPU second of the whole process (both peers).
    func smallOverTCP(server: SecureTransport, connection: PeerConnection, messages: [[UInt8]]) async throws -> (rate: Double, perCPU: Double) {
        let count = NIOLockedValueBox(0)
        server.server.registerOneWay("count") { _, _ in count.withLockedValue { $0 += 1 } }
        server.server.register("sync") { _, _ in withUnsafeBytes(of: UInt64(count.withLockedValue { $0 }).bigEndian) { Array($0) } }
        let round = 10_000
        let rounds = max(smallMessages / round, 1)
        let (seconds, cpu) = try await measure {
            for r in 0..<rounds {
                for i in 0..<round { try connection.send("count", messages[(r + i) & 1023]) }
                _ = try await connection.call("sync", [])
            }
        }
        let n = count.withLockedValue { $0 }
        guard n == rounds * round else { throw TransportError(.malformed, "the receiver counted \(n) of \(rounds * round) messages") }
        return (Double(n) / seconds, Double(n) / cpu)
    }

    /// Datagram messages in rounds of 2,000; after each round the sender asks the receiver's
    /// count until it stops moving, so the receiver is never flooded past its socket buffer.
    func smallOverUDP(server: SecureTransport, client: SecureTransport, connection: PeerConnection, messages: [[UInt8]])
        async throws -> (rate: Double, perCPU: Double, loss: Double) {
        let count = NIOLockedValueBox(0)
        server.onDatagram { _, _ in count.withLockedValue { $0 += 1 } }
        server.server.register("udpcount") { _, _ in withUnsafeBytes(of: UInt64(count.withLockedValue { $0 }).bigEndian) { Array($0) } }
        func received() async throws -> Int {
            Int(try await connection.call("udpcount", []).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }
        let round = 2_000
        let rounds = max(smallMessages / 2 / round, 1)
        var sent = 0
        let (seconds, cpu) = try await measure {
            for r in 0..<rounds {
                for i in 0..<round { try await client.sendDatagram(messages[(r + i) & 1023], to: connection.peer) }
                sent += round
                var last = -1
                while true {
                    let now = try await received()
                    if now >= sent || now == last { break }
                    last = now
                }
            }
        }
        let n = count.withLockedValue { $0 }
        return (Double(n) / seconds, Double(n) / cpu, 1 - Double(n) / Double(sent))
    }

    /// Milliseconds from dialling to the first answered byte (a 1-byte echo), sorted, for
    /// `handshakes` connections each made (and closed) by the transport `dialler` returns.
    func connectTimes(to address: Multiaddr, _ dialler: () -> SecureTransport) async throws -> [Double] {
        var times: [Double] = []
        for _ in 0..<handshakes {
            let t = dialler()
            let start = ContinuousClock.now
            let c = try await t.dial(address)
            _ = try await c.call("echo", [1])
            times.append(BenchClock.seconds(since: start) * 1000)
            await c.close()
        }
        return times.sorted()
    }

    /// Median round trip of a 128-byte call, one at a time, in microseconds.
    func roundTrip(_ connection: PeerConnection) async throws -> Double {
        var times: [Double] = []
        let payload = [UInt8](repeating: 1, count: 128)
        for _ in 0..<2000 {
            let start = ContinuousClock.now
            _ = try await connection.call("echo", payload)
            times.append(BenchClock.seconds(since: start) * 1e6)
        }
        return times.sorted()[times.count / 2]
    }

    /// Milliseconds of the three handshake messages' processing on one thread (the critical
    /// path's cryptography: both sides' key agreements and signature checks), median of 200.
    func handshakeCrypto(secret: SecureBytes) -> Double {
        let a = HandshakeSettings(clusterSecret: secret, identity: .generate())
        let b = HandshakeSettings(clusterSecret: secret, identity: .generate())
        var times: [Double] = []
        func message(_ actions: [HandshakeInstance.Action]) -> [UInt8] {
            for case .send(let m) in actions { return Array(m.dropFirst(2)) }
            fatalError("the handshake sent no message")
        }
        for _ in 0..<200 {
            var i = HandshakeInstance(role: .initiator(expected: nil), settings: a, now: .zero)
            var r = HandshakeInstance(role: .responder, settings: b, now: .zero)
            let start = ContinuousClock.now
            let m2 = message(r.onMessage(message(i.start()), now: .zero))
            let m3 = message(i.onMessage(m2, now: .zero))
            _ = r.onMessage(m3, now: .zero)
            times.append(BenchClock.seconds(since: start) * 1000)
        }
        return times.sorted()[times.count / 2]
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
