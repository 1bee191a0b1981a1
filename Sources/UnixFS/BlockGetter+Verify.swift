public import Multiformats

extension BlockGetter {
    /// The block, checked against its CID: a corrupt block is reported, never returned.
    public func verifiedBlock(_ cid: CID) throws -> [UInt8] {
        let bytes = try block(cid)
        switch cid.multihash.verifies(bytes) {
        case true: return bytes
        case false: throw UnixFSError(.hashMismatch, "block \(cid) does not match its CID (corrupt)")
        case nil: throw UnixFSError(.unsupported, "block \(cid) uses hash \(cid.multihash.code), which PinMesh cannot verify")
        }
    }
}
