import ClusterTestKit
import Multiformats
import Testing

/// Runs `body` and returns the code of the MultiformatsError it throws, or nil if it succeeds.
func errorCode(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let e as MultiformatsError {
        return e.code.name
    } catch {
        return "unexpected \(error)"
    }
}

@Suite struct VarintTests {
    let v: VarintVectors = try! Vectors.json("varint.json")

    @Test func validVectors() throws {
        for c in v.valid {
            #expect(Varint.encode(c.value) == Hex.bytes(c.hex))
            #expect(try Varint.decode(Hex.bytes(c.hex)) == c.value)
            #expect(Varint.encodedLength(c.value) == c.hex.count / 2)
        }
    }

    @Test func invalidVectors() {
        for c in v.invalid {
            #expect(errorCode { _ = try Varint.decode(Hex.bytes(c.hex!)) } == c.error, "\(c.hex!)")
        }
    }

    @Test func limitIsNineBytes() throws {
        #expect(Varint.encode(Varint.maxValue).count == Varint.maxBytes)
        #expect(try Varint.decode(Varint.encode(Varint.maxValue)) == Varint.maxValue)
    }
}

@Suite struct MultibaseTests {
    let v: MultibaseVectors = try! Vectors.json("multibase.json")

    @Test func specVectors() throws {
        for c in v.valid {
            for (name, text) in c.encodings {
                let base = try #require(Multibase(name: name), "unknown base \(name)")
                #expect(base.encode(Hex.bytes(c.hex)) == text, "\(name)")
                let decoded = try Multibase.decode(text)
                #expect(decoded.base == base && decoded.bytes == Hex.bytes(c.hex), "\(text)")
            }
        }
        for c in v.decode_only {
            #expect(try Multibase.decode(c.text).bytes == Hex.bytes(c.hex), "\(c.text)")
        }
    }

    @Test func rejects() {
        for c in v.invalid {
            #expect(errorCode { _ = try Multibase.decode(c.text!) } == c.error, "\(c.text!)")
        }
    }

    @Test func randomRoundTrips() throws {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<300 {
            var bytes = rng.bytes(Int.random(in: 0..<70, using: &rng))
            if Bool.random(using: &rng) { bytes.insert(contentsOf: [0, 0], at: 0) }
            for base in Multibase.allCases {
                let text = base.encode(bytes)
                let back = try Multibase.decode(text)
                #expect(back.bytes == bytes && back.base == base, "\(base.name) \(text)")
            }
        }
    }

    @Test func radixLimitIsEnforcedAtTheLimit() throws {
        let atLimit = "z" + String(repeating: "2", count: Multibase.maxRadixTextLength)
        #expect(try Multibase.decode(atLimit).bytes.count > 0)
        let over = "z" + String(repeating: "2", count: Multibase.maxRadixTextLength + 1)
        #expect(errorCode { _ = try Multibase.decode(over) } == "tooLong")
    }
}

@Suite struct MultihashTests {
    let v: MultihashVectors = try! Vectors.json("multihash.json")

    @Test func validVectors() throws {
        for c in v.valid {
            let mh = try Multihash(code: Multicodec(rawValue: c.code), digest: Hex.bytes(c.digest))
            #expect(Hex.string(mh.bytes) == c.hex, "\(c.name)")
            let parsed = try Multihash(bytes: Hex.bytes(c.hex))
            #expect(parsed == mh)
            if let data = c.data_hex {
                #expect(Multihash.digest(Hex.bytes(data), code: mh.code) == mh, "\(c.name)")
                #expect(mh.verifies(Hex.bytes(data)) == true)
                #expect(mh.verifies(Hex.bytes(data) + [0]) == false)
            } else {
                #expect(mh.verifies([]) == nil)
            }
        }
    }

    @Test func invalidVectors() {
        for c in v.invalid {
            #expect(errorCode { _ = try Multihash(bytes: Hex.bytes(c.hex!)) } == c.error, "\(c.hex!)")
        }
    }

    @Test func digestLimit() throws {
        #expect(try Multihash.identity([UInt8](repeating: 1, count: Multihash.maxDigestBytes)).digest.count == 128)
        #expect(errorCode { _ = try Multihash.identity([UInt8](repeating: 1, count: Multihash.maxDigestBytes + 1)) } == "tooLong")
    }

    @Test func sha256MatchesSharedUnixFSVectors() throws {
        let hello = Array("hello world\n".utf8)
        #expect(Hex.string(Multihash.sha256(hello).digest) == "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447")
        #expect(CID.v1(codec: .raw, Multihash.sha256(hello)).description == "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
    }
}

@Suite struct CIDTests {
    let v: CIDVectors = try! Vectors.json("cid.json")

    @Test func validVectors() throws {
        for c in v.valid {
            let cid = try CID(c.text)
            #expect(cid.version.rawValue == c.version, "\(c.text)")
            #expect(cid.codec.rawValue == c.codec, "\(c.text)")
            #expect(cid.description == c.text, "prints back as it was read: \(c.text)")
            #expect(try CID(bytes: cid.bytes) == cid)
            if let mh = c.multihash_hex { #expect(Hex.string(cid.multihash.bytes) == mh) }
            if let bin = c.binary_hex { #expect(Hex.string(cid.bytes) == bin) }
            if let t = c.v1_base32 { #expect(cid.v1.string(base: .base32) == t) }
            if let t = c.v1_base36 { #expect(cid.v1.string(base: .base36) == t); #expect(try CID(t) == cid.v1) }
            if let t = c.v1_base58btc { #expect(cid.v1.string(base: .base58btc) == t); #expect(try CID(t) == cid.v1) }
            if let t = c.v0 { #expect(try cid.toV0().description == t) }
            // Any v1 string form parses back.
            for base in Multibase.allCases { #expect(try CID(cid.v1.string(base: base)) == cid.v1) }
        }
    }

    @Test func invalidVectors() {
        for c in v.invalid {
            #expect(errorCode { _ = try CID(c.text!) } == c.error, "\(c.text!)")
        }
    }

    @Test func conversions() throws {
        let raw = try CID("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
        #expect(errorCode { _ = try raw.toV0() } == "invalidCID")
        let v0 = try CID("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
        #expect(v0.v1.description == "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
        #expect(try v0.v1.toV0() == v0)
        #expect(v0 != v0.v1)
        // The multibase-wrapped binary of a CIDv0 is read as that CIDv0, as the CID spec decodes binary.
        #expect(try CID(Multibase.base32.encode(v0.bytes)) == v0)
        #expect(errorCode { _ = try CID.v0(Multihash.blake2b256([1])) } == "invalidCID")
    }

    @Test func codableUsesTheTextForm() throws {
        let cid = try CID("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
        let data = try JSONEncoderShim.encode([cid])
        #expect(String(decoding: data, as: UTF8.self) == "[\"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n\"]")
        #expect(try JSONEncoderShim.decode([CID].self, from: data) == [cid])
    }

    @Test func textLimitAtTheLimit() {
        let atLimit = "b" + String(repeating: "a", count: CID.maxTextLength - 1)
        #expect(errorCode { _ = try CID(atLimit) } != "tooLong")
        #expect(errorCode { _ = try CID(atLimit + "a") } == "tooLong")
    }
}

@Suite struct PeerIDTests {
    let v: PeerIDVectors = try! Vectors.json("peerid.json")

    @Test func ed25519SpecVector() throws {
        for c in v.ed25519 {
            let id = try PeerID(ed25519PublicKey: Hex.bytes(c.public_key))
            #expect(id.description == c.peer_id)
            #expect(id.publicKey?.protobuf == Hex.bytes(c.public_key_protobuf))
            #expect(id.ed25519PublicKey == Hex.bytes(c.public_key))
            #expect(id.cid.string(base: .base32) == c.cid_base32)
            #expect(id.cid.string(base: .base36) == c.cid_base36)
            for text in [c.peer_id, c.cid_base32, c.cid_base36] { #expect(try PeerID(text) == id, "\(text)") }
            #expect(c.peer_id.hasPrefix("12D3KooW"))
            #expect(try PeerID(bytes: id.bytes) == id)
        }
    }

    @Test func legacySHA256IDs() throws {
        for c in v.legacy_sha256 {
            let id = try PeerID(c.peer_id)
            #expect(id.description == c.peer_id && id.publicKey == nil && id.ed25519PublicKey == nil)
        }
    }

    @Test func invalidVectors() {
        for c in v.invalid {
            #expect(errorCode { _ = try PeerID(c.text!) } == c.error, "\(c.text!)")
        }
    }

    @Test func inlineKeyLimitAtTheLimit() throws {
        // 42 bytes of key encoding are inlined; 43 are not allowed as an identity peer ID.
        let key40 = try LibP2PPublicKey(type: .secp256k1, data: [UInt8](repeating: 2, count: 38))
        #expect(key40.protobuf.count == 42)
        #expect(try PeerID(multihash: Multihash.identity(key40.protobuf)).publicKey == key40)
        let key43 = try LibP2PPublicKey(type: .secp256k1, data: [UInt8](repeating: 2, count: 39))
        #expect(errorCode { _ = try PeerID(multihash: Multihash.identity(key43.protobuf)) } == "invalidPeerID")
    }
}

@Suite struct MultiaddrTests {
    let v: MultiaddrVectors = try! Vectors.json("multiaddr.json")

    @Test func validVectors() throws {
        for c in v.valid {
            let ma = try Multiaddr(c.text)
            #expect(ma.description == c.text)
            #expect(Hex.string(ma.bytes) == c.hex, "\(c.text)")
            #expect(try Multiaddr(bytes: Hex.bytes(c.hex)) == ma)
        }
    }

    @Test func canonicalForms() throws {
        for c in v.canonicalised {
            #expect(try Multiaddr(c.text).description == c.canonical, "\(c.text)")
        }
    }

    @Test func invalidText() {
        for c in v.invalid {
            #expect(errorCode { _ = try Multiaddr(c.text!) } == c.error, "\(c.text!)")
        }
    }

    @Test func invalidBinary() {
        for c in v.invalid_binary {
            #expect(errorCode { _ = try Multiaddr(bytes: Hex.bytes(c.hex!)) } == c.error, "\(c.hex!)")
        }
    }

    @Test func accessors() throws {
        let ma = try Multiaddr("/ip4/127.0.0.1/tcp/9096/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")
        #expect(ma.peerID?.description == "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")
        #expect(ma.withoutPeerID?.description == "/ip4/127.0.0.1/tcp/9096")
        #expect(try Multiaddr("/ip4/1.2.3.4/tcp/1").appending(.udp(2)).description == "/ip4/1.2.3.4/tcp/1/udp/2")
    }

    @Test func limitsAtTheLimit() throws {
        let name = String(repeating: "a", count: Multiaddr.maxDNSNameBytes)
        #expect(try Multiaddr("/dns4/" + name).description == "/dns4/" + name)
        #expect(errorCode { _ = try Multiaddr("/dns4/" + name + "a") } == "invalidAddress")
        // Binary size: 4 DNS components of 255 bytes (4 * 258 = 1032) exceed 1024; 3 plus a smaller one fit.
        let big = Multiaddr.Component.dns(name)
        #expect(errorCode { _ = try Multiaddr(components: [big, big, big, big]) } == "tooLong")
        let fill = Multiaddr.maxBinaryBytes - 3 * 258 - 3
        let exact = try Multiaddr(components: [big, big, big, .dns(String(repeating: "b", count: fill))])
        #expect(exact.bytes.count == Multiaddr.maxBinaryBytes)
        #expect(try Multiaddr(bytes: exact.bytes) == exact)
        #expect(errorCode { _ = try Multiaddr(bytes: exact.bytes + [0x06, 0, 1]) } == "tooLong")
    }
}
