func fuzzNoisePayload(_ bytes: [UInt8]) {
    guard let payload = try? NoiseHandshakePayload(decoding: bytes) else { return }
    fuzzCheck(payload.identityKey.count <= NoiseHandshakePayload.maxKeyBytes, "identity key over its limit")
    fuzzCheck(payload.streamMuxers.count <= NoiseHandshakePayload.maxMuxers, "more muxers than the limit")
    fuzzCheck((try? NoiseHandshakePayload(decoding: payload.encoded)) == payload, "Noise payload does not round-trip")
}
