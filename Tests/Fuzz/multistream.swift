func fuzzMultistream(_ bytes: [UInt8]) {
    // Messages back to back: each decoded one re-encodes to the same bytes.
    var offset = 0
    while let result = MultistreamMessage.decode(bytes, at: offset), case .success(let (text, end)) = result {
        fuzzCheck(MultistreamMessage.encode(text) == Array(bytes[offset..<end]), "multistream message re-encodes differently")
        offset = end
    }
    // The same bytes to both roles, whole and split in two: never a crash.
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    var (responder, _) = MultistreamSelect.responder(supporting: ["/noise", "/yamux/1.0.0"])
    _ = responder.receive(Array(bytes[..<cut]))
    _ = responder.receive(Array(bytes[cut...]))
    var (initiator, _) = MultistreamSelect.initiator(proposing: ["/tls/1.0.0", "/noise"])
    if case .agreed(let p, _, _) = initiator.receive(bytes) {
        fuzzCheck(p == "/tls/1.0.0" || p == "/noise", "initiator agreed on a protocol it did not propose")
    }
}
