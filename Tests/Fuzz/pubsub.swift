/// Pubsub frames: decoding never crashes, and whatever decodes re-encodes to a frame that
/// decodes to the same value (the encoding is canonical for what the decoder keeps).
func fuzzPubSub(_ bytes: [UInt8]) {
    guard let rpc = try? GossipRPC(decoding: bytes, maxMessageBytes: 4096) else { return }
    let again = rpc.encoded()
    fuzzCheck((try? GossipRPC(decoding: again, maxMessageBytes: 4096)) == rpc, "pubsub frame does not round-trip")
}
