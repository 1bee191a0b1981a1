/// RPC frames: decoding never crashes, and decoding is idempotent after one re-encoding
/// (error and reset reasons, also inside a batch, are cut at 1,024 bytes and invalid UTF-8 in
/// them is replaced, so those frames need not round-trip exactly).
func fuzzRPCFrame(_ bytes: [UInt8]) {
    guard let x = try? RPCFrame(decoding: bytes) else { return }
    guard let y = try? RPCFrame(decoding: x.encoded()) else { return fuzzCheck(false, "a decoded RPC frame does not re-decode") }
    fuzzCheck((try? RPCFrame(decoding: y.encoded())) == y, "RPC frame re-encoding is not stable")
    fuzzCheck(x.encodedSize == x.encoded().count, "RPC frame size is not what it encodes to")
    func carriesText(_ f: RPCFrame) -> Bool {
        switch f {
        case .error, .reset: return true
        case .batch(let frames): return frames.contains(where: carriesText)
        default: return false
        }
    }
    if carriesText(x) { return }
    fuzzCheck(x == y, "RPC frame does not round-trip")
    fuzzCheck(x.encoded() == bytes, "RPC frame does not re-encode to its bytes")
}
