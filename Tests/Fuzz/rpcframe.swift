/// RPC frames: decoding never crashes, and decoding is idempotent after one re-encoding
/// (error reasons are cut at 1,024 bytes and invalid UTF-8 in them is replaced).
func fuzzRPCFrame(_ bytes: [UInt8]) {
    guard let x = try? RPCFrame(decoding: bytes) else { return }
    guard let y = try? RPCFrame(decoding: x.encoded()) else { return fuzzCheck(false, "a decoded RPC frame does not re-decode") }
    fuzzCheck((try? RPCFrame(decoding: y.encoded())) == y, "RPC frame re-encoding is not stable")
    if case .error = x { return }
    fuzzCheck(x == y, "RPC frame does not round-trip")
}
