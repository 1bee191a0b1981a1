/// One handshake for the whole run (its sessions); each input gets a fresh sealer and opener.
nonisolated(unsafe) let fuzzDatagramSessions: (initiator: SecureSession, responder: SecureSession) = {
    let secret = SecureBytes([UInt8](repeating: 1, count: 32))
    let ki = try! Ed25519.PrivateKey(seed: [UInt8](repeating: 2, count: 32))
    let kr = try! Ed25519.PrivateKey(seed: [UInt8](repeating: 3, count: 32))
    var i = HandshakeInstance(role: .initiator(expected: nil), settings: HandshakeSettings(clusterSecret: secret, identity: ki), now: .zero)
    var r = HandshakeInstance(role: .responder, settings: HandshakeSettings(clusterSecret: secret, identity: kr), now: .zero)
    func sent(_ a: [HandshakeInstance.Action]) -> [UInt8] {
        for x in a { if case .send(let b) = x { return Array(b.dropFirst(2)) } }
        fatalError("no message")
    }
    func session(_ a: [HandshakeInstance.Action]) -> SecureSession {
        for x in a { if case .established(let s) = x { return s } }
        fatalError("no session")
    }
    let a3 = i.onMessage(sent(r.onMessage(sent(i.start()), now: .zero)), now: .zero)
    return (session(a3), session(r.onMessage(sent(a3), now: .zero)))
}()

func fuzzDatagram(_ bytes: [UInt8]) {
    let (si, sr) = fuzzDatagramSessions
    var opener = DatagramOpener(session: sr)
    // Forged datagrams addressed to the right session: never accepted.
    let forged = sr.localDatagramID + Array(bytes.prefix(1200 - 8))
    fuzzCheck((try? opener.open(forged)) == nil, "a forged datagram was accepted")
    var sealer = DatagramSealer(session: si)
    let payload = Array(bytes.prefix(DatagramLayer.maxPayload))
    fuzzCheck((try? opener.open(try! sealer.seal(payload))) == payload, "datagram round trip")
}
