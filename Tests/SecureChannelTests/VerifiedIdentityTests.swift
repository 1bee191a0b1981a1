import Foundation
import Multiformats
import Sodium
import Testing
@testable import SecureChannel

/// A cache of checked identity bindings that counts its hits.
final class CountingIdentities: VerifiedIdentities, @unchecked Sendable {
    private let lock = NSLock()
    private var set = Set<[UInt8]>()
    private(set) var hits = 0

    func contains(_ binding: [UInt8]) -> Bool {
        lock.withLock {
            let hit = set.contains(binding)
            if hit { hits += 1 }
            return hit
        }
    }

    func insert(_ binding: [UInt8]) { lock.withLock { _ = set.insert(binding) } }
}

@Suite struct VerifiedIdentityTests {
    static func handshake(_ a: HandshakeSettings, _ b: HandshakeSettings) -> (PeerID?, PeerID?) {
        var i = HandshakeInstance(role: .initiator(expected: nil), settings: a, now: .zero)
        var r = HandshakeInstance(role: .responder, settings: b, now: .zero)
        func peer(_ actions: [HandshakeInstance.Action]) -> PeerID? {
            for case .established(let s) in actions { return s.peer }
            return nil
        }
        let m2 = Pair.sent(r.onMessage(Pair.sent(i.start())!, now: .zero))!
        let a3 = i.onMessage(m2, now: .zero)
        return (peer(a3), peer(r.onMessage(Pair.sent(a3)!, now: .zero)))
    }

    @Test func aReconnectingPeerSkipsTheSignatureCheck() {
        let secret = SecureBytes([UInt8](repeating: 5, count: 32))
        let ki = Ed25519.PrivateKey.generate(), kr = Ed25519.PrivateKey.generate()
        let ci = CountingIdentities(), cr = CountingIdentities()
        var a = HandshakeSettings(clusterSecret: secret, identity: ki)
        var b = HandshakeSettings(clusterSecret: secret, identity: kr)
        a.verified = ci
        b.verified = cr
        let first = Self.handshake(a, b)
        #expect(first.0 == (try? PeerID(ed25519PublicKey: kr.publicKey.bytes)))
        #expect(first.1 == (try? PeerID(ed25519PublicKey: ki.publicKey.bytes)))
        #expect(ci.hits == 0 && cr.hits == 0)
        // The same identities again (new ephemeral keys): both sides find the binding.
        let second = Self.handshake(a, b)
        #expect(second.0 == first.0 && second.1 == first.1)
        #expect(ci.hits == 1 && cr.hits == 1)
    }

    @Test func aCachedBindingNeverVouchesForOtherBytes() throws {
        let key = Ed25519.PrivateKey.generate()
        let noiseStatic = key.x25519PrivateKey().publicKey
        let signature = key.signature(for: HandshakePayloads.signaturePrefix + noiseStatic.bytes)
        let good = HandshakePayloads.Identity(cipher: 1, datagramID: [UInt8](repeating: 0, count: 8), ed25519: key.publicKey.bytes, signature: signature)
        let cache = CountingIdentities()
        _ = try good.verifiedPeer(noiseStatic: noiseStatic, verified: cache)
        #expect(try good.verifiedPeer(noiseStatic: noiseStatic, verified: cache) == PeerID(ed25519PublicKey: key.publicKey.bytes))
        #expect(cache.hits == 1)
        // A flipped signature bit, or another static key with the cached signature: checked, refused.
        var forged = good
        forged.signature[0] ^= 1
        #expect(throws: SecureChannelError.self) { try forged.verifiedPeer(noiseStatic: noiseStatic, verified: cache) }
        let other = X25519.PrivateKey.generate().publicKey
        #expect(throws: SecureChannelError.self) { try good.verifiedPeer(noiseStatic: other, verified: cache) }
        #expect(cache.hits == 1)
    }
}
