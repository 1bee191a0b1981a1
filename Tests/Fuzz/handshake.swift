func fuzzHandshake(_ bytes: [UInt8]) {
    // Arbitrary bytes as message 1 to a responder, and as message 2 to an initiator that has
    // sent message 1: refused, never a crash, never an established session.
    let secret = SecureBytes([UInt8](repeating: 1, count: 32))
    let key = try! Ed25519.PrivateKey(seed: [UInt8](repeating: 2, count: 32))
    var responder = HandshakeInstance(
        role: .responder, settings: HandshakeSettings(clusterSecret: secret, identity: key), now: .zero,
        ephemeral: try! X25519.PrivateKey(rawRepresentation: [UInt8](repeating: 3, count: 32)), datagramID: [0, 0, 0, 0, 0, 0, 0, 1])
    for action in responder.onMessage(bytes, now: .zero) {
        if case .established = action { fuzzCheck(false, "responder established from one message") }
    }
    var initiator = HandshakeInstance(
        role: .initiator(expected: nil), settings: HandshakeSettings(clusterSecret: secret, identity: key), now: .zero,
        ephemeral: try! X25519.PrivateKey(rawRepresentation: [UInt8](repeating: 4, count: 32)), datagramID: [0, 0, 0, 0, 0, 0, 0, 2])
    _ = initiator.start()
    for action in initiator.onMessage(bytes, now: .zero) {
        if case .established = action { fuzzCheck(false, "initiator established from forged message 2") }
    }
    var frames = HandshakeFrameDecoder()
    frames.feed(bytes)
    while frames.next() != nil {}
}
