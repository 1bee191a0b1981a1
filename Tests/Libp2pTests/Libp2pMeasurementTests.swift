import Foundation
import Multiformats
import Sodium
import Testing
@testable import Libp2p
@testable import Libp2pCore

/// Figures for Specs/libp2p.md, printed (`swift test --filter Libp2pMeasurementTests`); the
/// assertions only check that the work was done.
@Suite("libp2p host measurements on loopback")
struct Libp2pMeasurementTests {
    typealias S = Libp2pTestSupport

    @Test("a new connection to its first stream: median of 20 dials; one stream's throughput against ChaChaPoly on one core")
    func measure() async throws {
        let listener = try await S.host()
        let clock = ContinuousClock()
        var dials: [Duration] = []
        for _ in 0..<20 {
            let dialer = try await S.host()
            let start = clock.now
            let peer = try await dialer.connect(try S.dialAddress(listener))
            let stream = try await dialer.newStream(to: peer, protocols: ["/echo/1.0.0"])
            dials.append(clock.now - start)
            #expect(stream.protocolID == "/echo/1.0.0")
            await stream.reset()
            await dialer.shutdown()
        }
        let median = dials.sorted()[dials.count / 2]

        listener.setStreamHandler("/sink/1.0.0") { stream in
            var total = 0
            while let chunk = try? await stream.read() { total += chunk.count }
            try? await stream.writeMessage(Varint.encode(UInt64(total)))
            await stream.closeWrite()
        }
        let sender = try await S.host()
        try await sender.connect(try S.dialAddress(listener))
        let stream = try await sender.newStream(to: listener.peerID, protocols: ["/sink/1.0.0"])
        let chunk = [UInt8](repeating: 0xab, count: 256 * 1024)
        let total = 128 << 20
        let t0 = clock.now
        for _ in 0..<(total / chunk.count) { try await stream.write(chunk) }
        await stream.closeWrite()
        let ack = try await stream.readMessage(maxLength: 16)
        let elapsed = clock.now - t0
        #expect(ack.map { try? Varint.decode($0) } == UInt64(total))

        let cipher = try AEAD(.chacha20Poly1305, key: SecureBytes.random(count: 32))
        let plain = [UInt8](repeating: 1, count: NoiseTransportCipher.maxPlaintext)
        let nonce = [UInt8](repeating: 0, count: 12)
        let c0 = clock.now
        var sealed = 0
        while sealed < total {
            _ = try cipher.seal(plain, nonce: nonce)
            sealed += plain.count
        }
        let cipherElapsed = clock.now - c0
        func mbps(_ bytes: Int, _ d: Duration) -> Double {
            Double(bytes) / 1e6 / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        let streamRate = mbps(total, elapsed), cipherRate = mbps(sealed, cipherElapsed)
        print(String(format: "libp2p: dial to first stream median %.2f ms (20 dials, min %.2f, max %.2f); one stream %.0f MB/s; ChaChaPoly seal %.0f MB/s on one core; ratio %.3f",
                     Double(median.components.attoseconds) / 1e15 + Double(median.components.seconds) * 1e3,
                     Double(dials.min()!.components.attoseconds) / 1e15, Double(dials.max()!.components.attoseconds) / 1e15,
                     streamRate, cipherRate, streamRate / cipherRate))
        await sender.shutdown()
        await listener.shutdown()
    }
}
