/// Bitswap messages: decoding never crashes; whatever decodes re-encodes to bytes that decode to
/// the same value, and every downgrade of it encodes and decodes too.
func fuzzBitswap(_ bytes: [UInt8]) {
    guard let message = try? BitswapMessage(decoding: bytes) else { return }
    let again = message.encoded()
    fuzzCheck((try? BitswapMessage(decoding: again)) == message, "bitswap message does not round-trip")
    for version in BitswapProtocolVersion.allCases {
        let down = message.downgraded(to: version)
        fuzzCheck((try? BitswapMessage(decoding: down.encoded())) == down, "downgraded bitswap message does not round-trip")
    }
    for p in message.payload {
        fuzzCheck((try? BitswapCIDPrefix(bytes: p.prefix.bytes)) == p.prefix, "CID prefix does not round-trip")
    }
}
