import ClusterTestKit
import Multiformats
import Testing

/// Decoders fed every prefix of valid input, mutated input and random input: they must return
/// a value or a typed error, never crash, and never accept a strict prefix of a valid value.
@Suite struct TortureTests {
    static let binaries: [(String, @Sendable ([UInt8]) throws -> Void)] = [
        ("varint", { _ = try Varint.decode($0) }),
        ("multihash", { _ = try Multihash(bytes: $0) }),
        ("cid", { _ = try CID(bytes: $0) }),
        ("multiaddr", { _ = try Multiaddr(bytes: $0) }),
        ("peerid", { _ = try PeerID(bytes: $0) }),
    ]

    static func samples() throws -> [(String, [UInt8])] {
        let addrs: MultiaddrVectors = try Vectors.json("multiaddr.json")
        let cids: CIDVectors = try Vectors.json("cid.json")
        var out: [(String, [UInt8])] = addrs.valid.map { ("multiaddr", Hex.bytes($0.hex)) }
        out += cids.valid.compactMap { $0.binary_hex.map { ("cid", Hex.bytes($0)) } }
        out += cids.valid.compactMap { $0.multihash_hex.map { ("multihash", Hex.bytes($0)) } }
        out.append(("peerid", try PeerID("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq").bytes))
        out.append(("varint", Varint.encode(Varint.maxValue)))
        return out
    }

    @Test func everyStrictPrefixOfAValidValueIsRejected() throws {
        for (kind, bytes) in try Self.samples() {
            let decode = Self.binaries.first { $0.0 == kind }!.1
            #expect(throws: Never.self) { try decode(bytes) }
            for n in 0..<bytes.count {
                let prefix = Array(bytes.prefix(n))
                // A multiaddr prefix that ends on a component boundary is itself a valid multiaddr.
                if kind == "multiaddr", (try? Multiaddr(bytes: prefix)) != nil { continue }
                #expect(throws: MultiformatsError.self, "\(kind) prefix \(n)") { try decode(prefix) }
            }
        }
    }

    @Test func mutatedAndRandomBinaryNeverCrashes() throws {
        var rng = SeededRandom(seed: 0xC1D)
        let samples = try Self.samples()
        for _ in 0..<20_000 {
            let (_, base) = samples.randomElement(using: &rng)!
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes += rng.bytes(Int.random(in: 0...4, using: &rng)) }
            for (_, decode) in Self.binaries { _ = try? decode(bytes) }
        }
        for _ in 0..<20_000 {
            let bytes = rng.bytes(Int.random(in: 0...48, using: &rng))
            for (_, decode) in Self.binaries { _ = try? decode(bytes) }
        }
    }

    @Test func randomTextNeverCrashes() {
        var rng = SeededRandom(seed: 0x7E47)
        let alphabet = Array("/0123456789abcdefQmzkbBfFmu:.-_+=ip4tcpudpdns2D3KooW%".unicodeScalars)
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...60, using: &rng)
            let text = String(String.UnicodeScalarView((0..<n).map { _ in alphabet.randomElement(using: &rng)! }))
            _ = try? CID(text)
            _ = try? PeerID(text)
            _ = try? Multiaddr(text)
            _ = try? Multibase.decode(text)
        }
    }

    @Test func decodedValuesReencodeToTheSameBytes() throws {
        // Strictness: anything a decoder accepts re-encodes to exactly the input.
        var rng = SeededRandom(seed: 0xBEEF)
        let samples = try Self.samples()
        for _ in 0..<20_000 {
            let (_, base) = samples.randomElement(using: &rng)!
            var bytes = base
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            if let mh = try? Multihash(bytes: bytes) { #expect(mh.bytes == bytes) }
            if let cid = try? CID(bytes: bytes) { #expect(cid.bytes == bytes) }
            if let ma = try? Multiaddr(bytes: bytes) { #expect(ma.bytes == bytes) }
            if let v = try? Varint.decode(bytes) { #expect(Varint.encode(v) == bytes) }
        }
    }
}

@Suite struct MultiaddrFuzzRegressions {
    /// Found by the fuzzer: a binary multiaddr within the binary limit whose text exceeded the
    /// old text limit, so it could not round-trip.
    @Test func largestBinaryHasATextForm() throws {
        let ip4 = try IPv4Address("255.255.255.255")
        let ma = try Multiaddr(components: Array(repeating: .ip4(ip4), count: Multiaddr.maxBinaryBytes / 5))
        #expect(ma.bytes.count <= Multiaddr.maxBinaryBytes)
        #expect(try Multiaddr(ma.description) == ma)
        let quic = try Multiaddr(components: Array(repeating: .quicV1, count: Multiaddr.maxBinaryBytes / 2))
        #expect(try Multiaddr(quic.description) == quic)
    }
}
