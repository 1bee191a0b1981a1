func fuzzIdentify(_ bytes: [UInt8]) {
    guard let message = try? IdentifyMessage(decoding: bytes) else { return }
    fuzzCheck(message.protocols.count <= IdentifyMessage.maxProtocols, "more protocols than the limit")
    fuzzCheck(message.listenAddresses.count <= IdentifyMessage.maxAddresses, "more addresses than the limit")
    fuzzCheck((try? IdentifyMessage(decoding: message.encoded)) == message, "identify message does not round-trip")
}
