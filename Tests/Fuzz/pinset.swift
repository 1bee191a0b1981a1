/// Pinset nodes, pin values and sync messages: decoding never crashes, and whatever decodes
/// re-encodes to exactly the input (the decoders accept only the canonical encoding, so one
/// node has one CID and one signed meaning).
func fuzzPinset(_ bytes: [UInt8]) {
    if let node = try? DeltaNode(decoding: bytes) {
        fuzzCheck(node.encoded() == bytes, "pinset node does not re-encode to its input")
        _ = node.hasValidSignature
    }
    if let pin = try? PinCodec.decode(bytes, cid: fuzzPinsetKey) {
        fuzzCheck(PinCodec.encode(pin) == bytes, "pin value does not re-encode to its input")
    }
    if let a = try? PinsetAnnouncement(decoding: bytes) {
        fuzzCheck((try? PinsetAnnouncement(decoding: a.encoded())) == a, "announcement does not round-trip")
    }
    if let r = try? PinsetFetchRequest(decoding: bytes) {
        fuzzCheck((try? PinsetFetchRequest(decoding: r.encoded())) == r, "fetch request does not round-trip")
    }
    if let r = try? PinsetFetchResponse(decoding: bytes) {
        fuzzCheck((try? PinsetFetchResponse(decoding: r.encoded())) == r, "fetch response does not round-trip")
    }
}

let fuzzPinsetKey = try! CID(bytes: [0x01, 0x55, 0x12, 0x20] + [UInt8](repeating: 7, count: 32))

// The digest the pinset needs, from libsodium (the fuzz build has no swift-crypto).
extension Multihash {
    static func sha256(_ data: [UInt8]) -> Multihash { try! Multihash(code: .sha2_256, digest: SodiumSHA256.hash(data)) }
}
