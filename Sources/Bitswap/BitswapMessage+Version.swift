import Multiformats

extension BitswapMessage {
    /// This message as a peer speaking `version` can read it.
    ///
    /// - 1.2.0: unchanged.
    /// - 1.1.0: no block presences, no pendingBytes, want entries without want type and
    ///   sendDontHave (a want-have becomes a want-block, which is what an older peer can answer).
    /// - 1.0.0 and unversioned: as 1.1.0, and payload blocks become raw `blocks`; a block whose CID
    ///   is not CIDv0 cannot be expressed and is left out (its receiver would hash it as CIDv0).
    public func downgraded(to version: BitswapProtocolVersion) -> BitswapMessage {
        guard !version.supportsHave else { return self }
        var out = BitswapMessage(wantlist: wantlist, blocks: blocks, payload: payload)
        if var list = wantlist {
            list.entries = list.entries.map {
                var e = $0
                e.wantType = .block
                e.sendDontHave = false
                return e
            }
            out.wantlist = list
        }
        if !version.usesPayload {
            out.blocks += payload.filter { $0.prefix == .v0 }.map(\.data)
            out.payload = []
        }
        return out
    }
}
