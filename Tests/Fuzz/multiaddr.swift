func fuzzMultiaddr(_ bytes: [UInt8]) {
    if let ma = try? Multiaddr(bytes: bytes) {
        fuzzCheck(ma.bytes == bytes, "multiaddr re-encodes differently")
        fuzzCheck((try? Multiaddr(ma.description)) == ma, "multiaddr text round trip: \(ma)")
    }
    if let ma = try? Multiaddr(String(decoding: bytes, as: UTF8.self)) {
        fuzzCheck((try? Multiaddr(bytes: ma.bytes)) == ma, "multiaddr binary round trip")
        fuzzCheck((try? Multiaddr(ma.description))?.description == ma.description, "multiaddr canonical text is stable")
    }
}
