/// The messages inside a datagram: what splits re-packs to the same bytes.
func fuzzDatagramMessages(_ bytes: [UInt8]) {
    guard let messages = try? DatagramMessages.split(Array(bytes.prefix(DatagramLayer.maxPayload))) else { return }
    let packed = DatagramMessages.pack(messages)
    fuzzCheck(packed.count <= 1 && (packed.first ?? []) == Array(bytes.prefix(DatagramLayer.maxPayload)), "datagram messages do not re-pack to the same bytes")
}
