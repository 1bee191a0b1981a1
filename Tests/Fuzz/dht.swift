func fuzzDHT(_ bytes: [UInt8]) {
    guard let message = try? DHTMessage(decoding: bytes) else { return }
    fuzzCheck(message.closerPeers.count + message.providerPeers.count <= DHTMessage.maxPeers, "more peers than the limit")
    fuzzCheck(message.key.count <= DHTMessage.maxKeyBytes, "a key over the limit")
    for p in message.closerPeers + message.providerPeers {
        fuzzCheck(p.addresses.count <= DHTMessage.maxAddresses, "more addresses than the limit")
    }
    // What decodes re-encodes to a message that decodes to the same thing.
    fuzzCheck((try? DHTMessage(decoding: message.encoded())) == message, "DHT message does not round-trip")
}
