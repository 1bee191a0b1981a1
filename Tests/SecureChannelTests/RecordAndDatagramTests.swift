import ClusterTestKit
import Sodium
import Testing
@testable import SecureChannel

@Suite struct RecordTests {
    static let key = SecureBytes([UInt8](repeating: 5, count: 32))

    @Test(arguments: RecordCipher.allCases)
    func roundTripInAnySplitsWithCompression(_ cipher: RecordCipher) throws {
        guard RecordCipher.local.contains(cipher) else { return }
        var sealer = try RecordSealer(cipher: cipher, key: Self.key)
        var opener = try RecordOpener(cipher: cipher, key: Self.key)
        var rng = SeededRandom(seed: 8)
        let payloads: [[UInt8]] = [[], [1], rng.bytes(511), [UInt8](repeating: 7, count: 4096), rng.bytes(RecordLayer.maxPlaintext), [UInt8](repeating: 0, count: RecordLayer.maxPlaintext)]
        var wire: [UInt8] = []
        for p in payloads { wire += sealer.seal(p, compressible: true) }
        #expect(wire.count < payloads.reduce(0) { $0 + $1.count }, "repetitive payloads were compressed")
        var got: [[UInt8]] = []
        var offset = 0
        while offset < wire.count {
            let n = min(Int.random(in: 1...9000, using: &rng), wire.count - offset)
            opener.feed(Array(wire[offset..<offset + n]))
            offset += n
            while let r = try opener.next() { got.append(r) }
        }
        #expect(got == payloads)
    }

    @Test func tamperingReorderingAndReplayAreDetected() throws {
        var sealer = try RecordSealer(cipher: .chacha20Poly1305, key: Self.key)
        let r1 = sealer.seal(Array("first".utf8)), r2 = sealer.seal(Array("second".utf8))
        for i in 0..<r1.count {
            var opener = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key)
            var bad = r1
            bad[i] ^= 0x10
            opener.feed(bad)
            #expect(throws: SecureChannelError.self) {
                while try opener.next() != nil {}
                if opener.counter == 0 { throw SecureChannelError(.malformed, "incomplete") }
            }
        }
        var reorder = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key)
        reorder.feed(r2)
        #expect(throws: SecureChannelError.self) { try reorder.next() }
        #expect(throws: SecureChannelError.self) { try reorder.next() }  // errors are final
        var replay = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key)
        replay.feed(r1 + r1)
        #expect(try replay.next() == Array("first".utf8))
        #expect(throws: SecureChannelError.self) { try replay.next() }
    }

    @Test func lengthLimitsAtTheLimit() throws {
        var opener = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key)
        let over = RecordLayer.maxCiphertext + 1
        opener.feed([0, UInt8(over >> 16), UInt8(over >> 8 & 0xff), UInt8(over & 0xff)])
        #expect(throws: SecureChannelError.self) { try opener.next() }
        var short = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key)
        short.feed([0, 0, 0, 15])
        #expect(throws: SecureChannelError.self) { try short.next() }
        var flags = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key)
        flags.feed([2, 0, 0, 16])
        #expect(throws: SecureChannelError.self) { try flags.next() }
        var sealer = try RecordSealer(cipher: .chacha20Poly1305, key: Self.key)
        let max = sealer.seal(SodiumRandom.bytes(RecordLayer.maxPlaintext))
        #expect(max.count == RecordLayer.headerBytes + RecordLayer.maxPlaintext + 16)
    }

    @Test func bothSidesRekeyAtTheInterval() throws {
        var sealer = try RecordSealer(cipher: .chacha20Poly1305, key: Self.key, rekeyInterval: 4)
        var opener = try RecordOpener(cipher: .chacha20Poly1305, key: Self.key, rekeyInterval: 4)
        var plain = try RecordSealer(cipher: .chacha20Poly1305, key: Self.key, rekeyInterval: 1 << 20)
        for i in 0..<10 {
            let r = sealer.seal([UInt8(i)])
            let same = plain.seal([UInt8(i)])
            #expect((r == same) == (i < 4), "record \(i): keys change exactly at the interval")
            opener.feed(r)
            #expect(try opener.next() == [UInt8(i)])
        }
    }
}

@Suite struct DatagramTests {
    func sessions() -> (SecureSession, SecureSession) {
        var p = Pair()
        let (i, r, _) = p.run()
        return (i!, r!)
    }

    @Test func roundTripReplayAndWindow() throws {
        let (i, r) = sessions()
        var sealer = DatagramSealer(session: i)
        var opener = DatagramOpener(session: r)
        let d0 = try sealer.seal([1, 2, 3])
        #expect(DatagramLayer.receiverID(d0) == r.localDatagramID)
        #expect(try opener.open(d0) == [1, 2, 3])
        #expect(throws: SecureChannelError.self) { try opener.open(d0) }
        var later: [[UInt8]] = []
        for n in 0..<1100 { later.append(try sealer.seal([UInt8(n & 0xff)])) }
        // Out of order inside the window is fine, each once.
        #expect(try opener.open(later[1099]) == [UInt8(1099 & 0xff)])
        #expect(try opener.open(later[1099 - 1000]) == [UInt8((1099 - 1000) & 0xff)])
        #expect(throws: SecureChannelError.self) { try opener.open(later[1099 - 1000]) }
        // 1024 behind the highest is outside the window.
        #expect(throws: SecureChannelError.self) { try opener.open(later[1099 - 1024]) }
        #expect(try opener.open(later[1099 - 1023]) == [UInt8((1099 - 1023) & 0xff)])
    }

    @Test func tamperedOversizedAndMisaddressedDatagramsAreDropped() throws {
        let (i, r) = sessions()
        var sealer = DatagramSealer(session: i)
        var opener = DatagramOpener(session: r)
        #expect(throws: SecureChannelError.self) { try sealer.seal([UInt8](repeating: 0, count: DatagramLayer.maxPayload + 1)) }
        let full = try sealer.seal([UInt8](repeating: 0, count: DatagramLayer.maxPayload))
        #expect(full.count == 1200)
        #expect(try opener.open(full).count == DatagramLayer.maxPayload)
        let d = try sealer.seal([9])
        for index in 0..<d.count {
            var bad = d
            bad[index] ^= 0x04
            #expect(throws: SecureChannelError.self) { try opener.open(bad) }
        }
        #expect(try opener.open(d) == [9])
        var back = DatagramOpener(session: i)
        #expect(throws: SecureChannelError.self) { try back.open(try sealer.seal([1])) }
    }
}

@Suite struct DatagramWindowTests {
    @Test func everyDatagramOfALongRunIsAcceptedInOrderAndSlightlyReordered() throws {
        var p = Pair()
        let (i, r, _) = p.run()
        var sealer = DatagramSealer(session: i!)
        var opener = DatagramOpener(session: r!)
        var batch: [[UInt8]] = []
        var accepted = 0
        for n in 0..<5000 {
            batch.append(try sealer.seal([UInt8(n & 0xff)]))
            if batch.count == 4 {
                for d in batch.reversed() where (try? opener.open(d)) != nil { accepted += 1 }
                batch = []
            }
        }
        #expect(accepted == 5000)
    }
}

@Suite struct BackoffTests {
    @Test func ceilingsDoubleUpToTheCapAndDelaysStayUnderThem() {
        let b = Backoff(base: .milliseconds(100), max: .seconds(5))
        #expect(b.ceiling(attempt: 0) == .milliseconds(100))
        #expect(b.ceiling(attempt: 1) == .milliseconds(200))
        #expect(b.ceiling(attempt: 5) == .milliseconds(3200))
        #expect(b.ceiling(attempt: 6) == .seconds(5))
        #expect(b.ceiling(attempt: 1000) == .seconds(5))
        var rng = SeededRandom(seed: 12)
        var again = SeededRandom(seed: 12)
        for n in 0..<50 {
            let d = b.delay(attempt: n, using: &rng)
            #expect(d >= .zero && d <= b.ceiling(attempt: n))
            #expect(d == b.delay(attempt: n, using: &again), "same seed, same delays")
        }
    }

    @Test func duplicateRuleIsSymmetric() {
        #expect(DuplicateConnectionRule.keeps(dialledBy: 1, between: 1, and: 2))
        #expect(!DuplicateConnectionRule.keeps(dialledBy: 2, between: 1, and: 2))
        #expect(DuplicateConnectionRule.keeps(dialledBy: 1, between: 2, and: 1))
    }
}
