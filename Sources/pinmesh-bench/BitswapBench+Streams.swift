import Foundation
import Libp2p
import Libp2pCore
import Logging
import Multiformats
import NIOPosix
import Sodium

/// The host-level figures of `pinmesh-bench bitswap`: dial to first stream, one stream's
/// throughput, and the cipher's one-core rate that bounds it.
extension BitswapBench {
    static let sinkProtocol = "/pinmesh-bench/sink/1.0.0"

    static func benchHost() async throws -> Libp2pHost {
        var logger = Logger(label: "bench.libp2p")
        logger.logLevel = .error
        let host = Libp2pHost(
            identity: .generate(), settings: Libp2pSettings(listen: [try Multiaddr("/ip4/127.0.0.1/tcp/0")], agentVersion: "pinmesh-bench"),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        host.setStreamHandler(sinkProtocol) { stream in
            var total = 0
            while let chunk = try? await stream.read() { total += chunk.count }
            try? await stream.writeMessage(Varint.encode(UInt64(total)))
            await stream.closeWrite()
        }
        try await host.start()
        return host
    }

    /// Median and minimum of `dials` fresh connections (TCP, multistream, Noise, yamux) to their
    /// first negotiated stream, in ms.
    static func measureDials(_ dials: Int) async throws -> (median: Double, min: Double) {
        let listener = try await benchHost()
        let address = try listener.listenAddresses[0].appending(.p2p(listener.peerID))
        var times: [Double] = []
        for _ in 0..<dials {
            let dialer = try await benchHost()
            let start = ContinuousClock.now
            let peer = try await dialer.connect(address)
            let stream = try await dialer.newStream(to: peer, protocols: [sinkProtocol])
            times.append(seconds(ContinuousClock.now - start) * 1000)
            await stream.reset()
            await dialer.shutdown()
        }
        await listener.shutdown()
        times.sort()
        return (times[times.count / 2], times[0])
    }

    /// MB/s of `total` bytes written in 256 KiB writes on one stream and acknowledged by the reader.
    static func measureStream(total: Int) async throws -> Double {
        let listener = try await benchHost()
        let sender = try await benchHost()
        try await sender.connect(try listener.listenAddresses[0].appending(.p2p(listener.peerID)))
        let stream = try await sender.newStream(to: listener.peerID, protocols: [sinkProtocol])
        let chunk = [UInt8](repeating: 0xab, count: 256 << 10)
        let start = ContinuousClock.now
        for _ in 0..<(total / chunk.count) { try await stream.write(chunk) }
        await stream.closeWrite()
        let ack = try await stream.readMessage(maxLength: 16)
        let elapsed = seconds(ContinuousClock.now - start)
        await sender.shutdown()
        await listener.shutdown()
        guard let ack, (try? Varint.decode(ack)) == UInt64(total / chunk.count * chunk.count) else {
            throw BitswapBenchError("the stream's reader did not count every byte written")
        }
        return Double(total) / 1e6 / elapsed
    }

    /// MB/s of ChaChaPoly-IETF sealing Noise-sized frames on one core (libsodium, the host's cipher).
    static func measureAEAD(total: Int) throws -> Double {
        let cipher = try AEAD(.chacha20Poly1305, key: SecureBytes.random(count: 32))
        let plain = [UInt8](repeating: 1, count: NoiseTransportCipher.maxPlaintext)
        var out = [UInt8](repeating: 0, count: plain.count + AEAD.tagBytes)
        let nonce = [UInt8](repeating: 0, count: 12)
        let start = ContinuousClock.now
        var sealed = 0
        while sealed < total {
            _ = try plain.withUnsafeBytes { p in
                try nonce.withUnsafeBytes { n in
                    try out.withUnsafeMutableBytes { o in
                        try cipher.seal(p, nonce: n, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), into: o)
                    }
                }
            }
            sealed += plain.count
        }
        return Double(sealed) / 1e6 / seconds(ContinuousClock.now - start)
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}
