import ClusterTestKit
import Sodium
import Testing

struct CryptoVectors: Decodable {
    struct Ed: Decodable { let name, seed, public_key, message, signature: String }
    struct X: Decodable { let alice_private, alice_public, bob_private, bob_public, shared: String }
    struct XMult: Decodable { let scalar, u, result: String }
    struct Sealed: Decodable { let key, nonce, ad, plaintext, sealed: String; let name: String? }
    struct Blake: Decodable { let name, input, key, digest: String; let output_bytes: Int }
    let ed25519_rfc8032: [Ed]
    let x25519_rfc7748: X
    let x25519_rfc7748_scalarmult: [XMult]
    let xchacha20poly1305_draft_a3_1: Sealed
    let chacha20poly1305_rfc8439_2_8_2: Sealed
    let aes256gcm_nist: [Sealed]
    let blake2b: [Blake]

    static let shared: CryptoVectors = try! Vectors.json("crypto.json")
}

@Suite struct Ed25519Tests {
    @Test(arguments: CryptoVectors.shared.ed25519_rfc8032.map(\.name))
    func rfc8032(_ name: String) throws {
        let v = CryptoVectors.shared.ed25519_rfc8032.first { $0.name == name }!
        let key = try Ed25519.PrivateKey(seed: Hex.bytes(v.seed))
        #expect(Hex.string(key.publicKey.bytes) == v.public_key)
        let sig = key.signature(for: Hex.bytes(v.message))
        #expect(Hex.string(sig) == v.signature)
        #expect(key.publicKey.isValidSignature(sig, for: Hex.bytes(v.message)))
        #expect(key.seed.bytes == Hex.bytes(v.seed))
    }

    @Test func everyFlippedBitIsRejected() throws {
        let key = try Ed25519.PrivateKey(seed: Array(repeating: 7, count: 32))
        let message = Array("pin bafy".utf8)
        let sig = key.signature(for: message)
        for i in 0..<sig.count * 8 {
            var bad = sig
            bad[i / 8] ^= 1 << (i % 8)
            #expect(!key.publicKey.isValidSignature(bad, for: message))
        }
        for i in 0..<message.count {
            var bad = message
            bad[i] ^= 0x01
            #expect(!key.publicKey.isValidSignature(sig, for: bad))
        }
        #expect(!key.publicKey.isValidSignature(Array(sig.dropLast()), for: message))
        #expect(!key.publicKey.isValidSignature(sig + [0], for: message))
    }

    @Test func lengthsAreChecked() {
        #expect(throws: SodiumError.self) { try Ed25519.PrivateKey(seed: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: SodiumError.self) { try Ed25519.PrivateKey(seed: [UInt8](repeating: 1, count: 33)) }
        #expect(throws: SodiumError.self) { try Ed25519.PublicKey(bytes: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func generatedKeysAreDistinctAndWork() {
        let a = Ed25519.PrivateKey.generate(), b = Ed25519.PrivateKey.generate()
        #expect(a.publicKey != b.publicKey)
        #expect(a.publicKey.isValidSignature(a.signature(for: [1, 2, 3]), for: [1, 2, 3]))
        #expect(!b.publicKey.isValidSignature(a.signature(for: [1, 2, 3]), for: [1, 2, 3]))
    }

    @Test func identityKeysConvertToAgreeingX25519Keys() throws {
        let a = Ed25519.PrivateKey.generate(), b = Ed25519.PrivateKey.generate()
        let ax = a.x25519PrivateKey(), bx = b.x25519PrivateKey()
        #expect(try a.publicKey.x25519PublicKey() == ax.publicKey)
        #expect(try ax.sharedSecret(with: b.publicKey.x25519PublicKey()) == bx.sharedSecret(with: a.publicKey.x25519PublicKey()))
    }
}

@Suite struct X25519Tests {
    @Test func rfc7748DiffieHellman() throws {
        let v = CryptoVectors.shared.x25519_rfc7748
        let alice = try X25519.PrivateKey(rawRepresentation: Hex.bytes(v.alice_private))
        let bob = try X25519.PrivateKey(rawRepresentation: Hex.bytes(v.bob_private))
        #expect(Hex.string(alice.publicKey.bytes) == v.alice_public)
        #expect(Hex.string(bob.publicKey.bytes) == v.bob_public)
        #expect(Hex.string(try alice.sharedSecret(with: bob.publicKey).bytes) == v.shared)
        #expect(Hex.string(try bob.sharedSecret(with: alice.publicKey).bytes) == v.shared)
    }

    @Test func rfc7748ScalarMult() throws {
        for v in CryptoVectors.shared.x25519_rfc7748_scalarmult {
            let k = try X25519.PrivateKey(rawRepresentation: Hex.bytes(v.scalar))
            #expect(Hex.string(try k.sharedSecret(with: X25519.PublicKey(bytes: Hex.bytes(v.u))).bytes) == v.result)
        }
    }

    @Test func lowOrderPointIsRefused() throws {
        let k = X25519.PrivateKey.generate()
        let zero = try X25519.PublicKey(bytes: [UInt8](repeating: 0, count: 32))
        #expect(throws: SodiumError.self) { try k.sharedSecret(with: zero) }
        #expect(throws: SodiumError.self) { try SessionKeys.client(k, server: zero) }
    }

    @Test func sessionKeysMirror() throws {
        let c = X25519.PrivateKey.generate(), s = X25519.PrivateKey.generate()
        let ck = try SessionKeys.client(c, server: s.publicKey)
        let sk = try SessionKeys.server(s, client: c.publicKey)
        #expect(ck.transmit == sk.receive)
        #expect(ck.receive == sk.transmit)
        #expect(ck.transmit != ck.receive)
    }
}

@Suite struct AEADTests {
    @Test func xchachaDraftVector() throws {
        let v = CryptoVectors.shared.xchacha20poly1305_draft_a3_1
        let aead = try AEAD(.xchacha20Poly1305, key: SecureBytes(Hex.bytes(v.key)))
        let sealed = try aead.seal(Hex.bytes(v.plaintext), nonce: Hex.bytes(v.nonce), authenticating: Hex.bytes(v.ad))
        #expect(Hex.string(sealed) == v.sealed)
        #expect(try aead.open(sealed, nonce: Hex.bytes(v.nonce), authenticating: Hex.bytes(v.ad)) == Hex.bytes(v.plaintext))
    }

    @Test func chachaRFC8439Vector() throws {
        let v = CryptoVectors.shared.chacha20poly1305_rfc8439_2_8_2
        let aead = try AEAD(.chacha20Poly1305, key: SecureBytes(Hex.bytes(v.key)))
        let sealed = try aead.seal(Hex.bytes(v.plaintext), nonce: Hex.bytes(v.nonce), authenticating: Hex.bytes(v.ad))
        #expect(Hex.string(sealed) == v.sealed)
        #expect(try aead.open(sealed, nonce: Hex.bytes(v.nonce), authenticating: Hex.bytes(v.ad)) == Hex.bytes(v.plaintext))
    }

    @Test func aesGCMNISTVectors() throws {
        guard AEAD.isAES256GCMAvailable else { return }
        for v in CryptoVectors.shared.aes256gcm_nist {
            let aead = try AEAD(.aes256GCM, key: SecureBytes(Hex.bytes(v.key)))
            let sealed = try aead.seal(Hex.bytes(v.plaintext), nonce: Hex.bytes(v.nonce), authenticating: Hex.bytes(v.ad))
            #expect(Hex.string(sealed) == v.sealed, "\(v.name ?? "")")
            #expect(try aead.open(sealed, nonce: Hex.bytes(v.nonce)) == Hex.bytes(v.plaintext))
        }
    }

    @Test(arguments: AEAD.Algorithm.allCases)
    func tamperingAnyByteFails(_ alg: AEAD.Algorithm) throws {
        guard alg != .aes256GCM || AEAD.isAES256GCMAvailable else { return }
        let aead = try AEAD(alg, key: SecureBytes.random(count: 32))
        let nonce = SodiumRandom.bytes(alg.nonceBytes)
        let ad: [UInt8] = [9, 9, 9]
        let sealed = try aead.seal(Array("record body".utf8), nonce: nonce, authenticating: ad)
        for i in 0..<sealed.count {
            var bad = sealed
            bad[i] ^= 0x80
            #expect(throws: SodiumError.self) { try aead.open(bad, nonce: nonce, authenticating: ad) }
        }
        var badNonce = nonce
        badNonce[0] ^= 1
        #expect(throws: SodiumError.self) { try aead.open(sealed, nonce: badNonce, authenticating: ad) }
        #expect(throws: SodiumError.self) { try aead.open(sealed, nonce: nonce, authenticating: [9, 9]) }
        #expect(throws: SodiumError.self) { try aead.open(Array(sealed.prefix(15)), nonce: nonce, authenticating: ad) }
        #expect(throws: SodiumError.self) { try aead.seal([1], nonce: Array(nonce.dropLast())) }
        // Empty plaintext still authenticates.
        let empty = try aead.seal([], nonce: nonce)
        #expect(empty.count == AEAD.tagBytes)
        #expect(try aead.open(empty, nonce: nonce) == [])
    }

    @Test func keyLengthIsChecked() {
        #expect(throws: SodiumError.self) { try AEAD(.xchacha20Poly1305, key: SecureBytes([UInt8](repeating: 0, count: 31))) }
    }
}

@Suite struct SecretStreamTests {
    @Test func roundTripWithTagsAndRekey() throws {
        let key = SecureBytes.random(count: SecretStream.keyBytes)
        var push = try SecretStream.Pusher(key: key)
        var pull = try SecretStream.Puller(key: key, header: push.header)
        let a = try push.push([1, 2, 3])
        let b = try push.push([], tag: .push)
        push.rekey()
        let c = try push.push(Array(repeating: 7, count: 1000), tag: .final, authenticating: [1])
        #expect(a.count == 3 + SecretStream.overheadBytes)
        let ra = try pull.pull(a)
        #expect(ra.message == [1, 2, 3] && ra.tag == .message)
        let rb = try pull.pull(b)
        #expect(rb.message == [] && rb.tag == .push)
        pull.rekey()
        let rc = try pull.pull(c, authenticating: [1])
        #expect(rc.message.count == 1000 && rc.tag == .final)
        #expect(throws: SodiumError.self) { try pull.pull(c, authenticating: [1]) }
        #expect(throws: SodiumError.self) { try push.push([1]) }
    }

    @Test func reorderedReplayedOrTamperedMessagesFail() throws {
        let key = SecureBytes.random(count: SecretStream.keyBytes)
        var push = try SecretStream.Pusher(key: key)
        let m1 = try push.push([1]), m2 = try push.push([2])
        do {
            var pull = try SecretStream.Puller(key: key, header: push.header)
            #expect(throws: SodiumError.self) { try pull.pull(m2) }
        }
        do {
            var pull = try SecretStream.Puller(key: key, header: push.header)
            _ = try pull.pull(m1)
            #expect(throws: SodiumError.self) { try pull.pull(m1) }
        }
        for i in 0..<m1.count {
            var pull = try SecretStream.Puller(key: key, header: push.header)
            var bad = m1
            bad[i] ^= 1
            #expect(throws: SodiumError.self) { try pull.pull(bad) }
        }
        var pull = try SecretStream.Puller(key: key, header: push.header)
        #expect(throws: SodiumError.self) { try pull.pull(Array(m1.prefix(16))) }
        #expect(throws: SodiumError.self) { _ = try SecretStream.Puller(key: key, header: [1, 2]) }
    }
}

@Suite struct Blake2bAndRandomTests {
    @Test func vectors() throws {
        for v in CryptoVectors.shared.blake2b {
            let d = try Blake2b.hash(Hex.bytes(v.input), outputBytes: v.output_bytes, key: Hex.bytes(v.key))
            #expect(Hex.string(d) == v.digest, "\(v.name)")
        }
    }

    @Test func streamingEqualsOneShot() throws {
        var rng = SeededRandom(seed: 1)
        let data = rng.bytes(10_000)
        var h = try Blake2b(outputBytes: 32)
        for chunk in stride(from: 0, to: data.count, by: 777) { h.update(Array(data[chunk..<min(chunk + 777, data.count)])) }
        #expect(h.finalize() == (try Blake2b.hash(data)))
    }

    @Test func limits() {
        #expect(throws: SodiumError.self) { _ = try Blake2b(outputBytes: 15) }
        #expect(throws: SodiumError.self) { _ = try Blake2b(outputBytes: 65) }
        #expect(throws: SodiumError.self) { _ = try Blake2b(key: [UInt8](repeating: 0, count: 65)) }
        #expect((try? Blake2b(outputBytes: 16, key: [UInt8](repeating: 0, count: 64))) != nil)
        #expect((try? Blake2b(outputBytes: 64)) != nil)
    }

    @Test func randomAndSecureBytes() {
        #expect(SodiumRandom.bytes(0) == [])
        #expect(SodiumRandom.bytes(32) != SodiumRandom.bytes(32))
        for _ in 0..<100 { #expect(SodiumRandom.uniform(10) < 10) }
        let s = SecureBytes([1, 2, 3])
        #expect(s == SecureBytes([1, 2, 3]) && s != SecureBytes([1, 2, 4]) && s != SecureBytes([1, 2]))
        #expect(!s.description.contains("1, 2"))
        #expect(SecureBytes([]).count == 0)
        #expect(Sodium.constantTimeEqual([1, 2], [1, 2]) && !Sodium.constantTimeEqual([1, 2], [1, 3]))
    }
}
