import ClusterTestKit
import Multiformats
import NIOCore
import NIOEmbedded
import Sodium
import Testing
@testable import SecureChannel
@testable import Transport

/// The connection's record path: records sealed in place, opened where they were read, and
/// records cut anywhere by the reads.
@Suite struct RecordPathTests {
    @Test func sealingInPlaceGivesTheSameRecordAsSealingFromACopy() throws {
        for cipher in RecordCipher.local {
            let key = SecureBytes.random(count: 32)
            var a = try RecordSealer(cipher: cipher, key: key, rekeyInterval: 3)
            var b = try RecordSealer(cipher: cipher, key: key, rekeyInterval: 3)
            var opener = try RecordOpener(cipher: cipher, key: key, rekeyInterval: 3)
            for size in [0, 1, 15, 16, 17, 1000, RecordLayer.maxPlaintext] {
                let plaintext = SodiumRandom.bytes(size)
                let expected = a.seal(plaintext)
                var record = [UInt8](repeating: 0, count: RecordSealer.recordSize(payload: size))
                let written = record.withUnsafeMutableBytes { out in
                    UnsafeMutableRawBufferPointer(rebasing: out[4...]).copyBytes(from: plaintext)
                    return b.sealInPlace(out, plaintextCount: size)
                }
                #expect(written == record.count)
                #expect(record == expected, "\(cipher) record of \(size) bytes")
                opener.feed(record)
                #expect(try opener.next() == plaintext)
            }
        }
    }

    @Test func wholeRecordsOpenWhereTheyLieAndACutOneWaitsForItsEnd() throws {
        let key = SecureBytes.random(count: 32)
        var sealer = try RecordSealer(cipher: .chacha20Poly1305, key: key)
        var opener = try RecordOpener(cipher: .chacha20Poly1305, key: key)
        let wire = sealer.seal([1, 2, 3]) + sealer.seal([4]) + sealer.seal([5, 6])
        var got: [[UInt8]] = []
        // Two whole records and the first 2 bytes of the third (half its header).
        try wire[..<(wire.count - 20)].withUnsafeBytes { try opener.open($0) { got.append($0); return true } }
        #expect(got == [[1, 2, 3], [4]])
        try wire[(wire.count - 20)...].withUnsafeBytes { try opener.open($0) { got.append($0); return true } }
        #expect(got == [[1, 2, 3], [4], [5, 6]])
        // Stopping drops the rest of those bytes.
        var stopping = try RecordOpener(cipher: .chacha20Poly1305, key: key)
        var first: [[UInt8]] = []
        try wire.withUnsafeBytes { try stopping.open($0) { first.append($0); return false } }
        #expect(first == [[1, 2, 3]])
        // After a failure every call fails, good bytes included.
        var failed = try RecordOpener(cipher: .chacha20Poly1305, key: key)
        var bad = wire
        bad[30] ^= 1
        #expect(throws: SecureChannelError.self) { try bad.withUnsafeBytes { try failed.open($0) { _ in true } } }
        #expect(throws: SecureChannelError.self) { try wire.withUnsafeBytes { try failed.open($0) { _ in true } } }
    }

    /// Two handlers on embedded channels, bytes carried between them by hand.
    static func pair() throws -> (EmbeddedChannel, EmbeddedChannel) {
        let secret = SecureBytes([UInt8](repeating: 7, count: 32))
        func side(_ role: HandshakeInstance.Role) throws -> EmbeddedChannel {
            let channel = EmbeddedChannel()
            let settings = HandshakeSettings(clusterSecret: secret, identity: .generate())
            let handshake = HandshakeInstance(role: role, settings: settings, now: SecureChannelHandler.now())
            var isInitiator = false
            if case .initiator = role { isInitiator = true }
            try channel.pipeline.syncOperations.addHandler(SecureChannelHandler(
                handshake: handshake, isInitiator: isInitiator, timeout: .seconds(5),
                established: channel.eventLoop.makePromise(), logger: .init(label: "test")))
            return channel
        }
        let a = try side(.initiator(expected: nil))
        let b = try side(.responder)
        try b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // Three handshake messages.
        for (from, to) in [(a, b), (b, a), (a, b)] {
            while let out = try from.readOutbound(as: ByteBuffer.self) { try to.writeInbound(out) }
        }
        return (a, b)
    }

    @Test func recordsCutAnywhereByTheReadsArriveWhole() throws {
        let (a, b) = try Self.pair()
        var rng = SeededRandom(seed: 42)
        let data = SodiumRandom.bytes(300_000)
        var sent: [[UInt8]] = []
        for i in 0..<40 {
            let n = Int(rng.next() % 70_000)
            let start = Int(rng.next() % UInt64(data.count - n))
            if i % 3 == 0 {
                // Stream data, sealed in place (up to one record).
                let range = start..<start + min(n, RPCFrame.maxData)
                a.write(RecordPlaintext.streamData(stream: 5, bytes: data, range: range), promise: nil)
                sent.append(RPCFrame.data(stream: 5, payload: Array(data[range])).encoded())
            } else {
                // Plain bytes, text-like ones compressed.
                let bytes = i % 3 == 1 ? Array(data[start..<start + min(n, RecordLayer.maxPlaintext)]) : [UInt8](repeating: UInt8(i), count: min(n, RecordLayer.maxPlaintext))
                a.write(RecordPlaintext.bytes(bytes), promise: nil)
                sent.append(bytes)
            }
        }
        a.flush()
        var wire: [UInt8] = []
        while var out = try a.readOutbound(as: ByteBuffer.self) { wire += out.readBytes(length: out.readableBytes)! }
        // Hand the bytes over in pieces of 1 byte to 100 KB, cutting headers and bodies alike.
        var offset = 0
        while offset < wire.count {
            let n = min(wire.count - offset, 1 + Int(rng.next() % (rng.next() % 2 == 0 ? 7 : 100_000)))
            try b.writeInbound(ByteBuffer(bytes: wire[offset..<offset + n]))
            offset += n
        }
        var received: [[UInt8]] = []
        while let plaintext = try b.readInbound(as: [UInt8].self) { received.append(plaintext) }
        #expect(received.count == sent.count)
        #expect(received == sent)
        #expect(b.isActive)
    }

    @Test func aTamperedRecordClosesTheConnection() throws {
        let (a, b) = try Self.pair()
        a.writeAndFlush(RecordPlaintext.bytes(SodiumRandom.bytes(5000)), promise: nil)
        var out = try #require(try a.readOutbound(as: ByteBuffer.self))
        var bytes = out.readBytes(length: out.readableBytes)!
        bytes[100] ^= 1
        _ = try? b.writeInbound(ByteBuffer(bytes: bytes))
        #expect(!b.isActive)
    }
}
