func fuzzPeerID(_ bytes: [UInt8]) {
    if let id = try? PeerID(bytes: bytes) {
        fuzzCheck(id.bytes == bytes, "peer ID re-encodes differently")
        fuzzCheck((try? PeerID(id.description)) == id, "peer ID text round trip")
        fuzzCheck((try? PeerID(id.cid.string(base: .base36))) == id, "peer ID CID round trip")
        if let key = id.publicKey { fuzzCheck((try? LibP2PPublicKey(protobuf: key.protobuf)) == key, "key protobuf round trip") }
    }
    if let id = try? PeerID(String(decoding: bytes, as: UTF8.self)) {
        fuzzCheck((try? PeerID(bytes: id.bytes)) == id, "peer ID binary round trip")
    }
}
