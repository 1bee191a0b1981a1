import Multiformats

/// One request line to `Tests/Compat/kubo_peer.py` (its docstring is the protocol).
struct KuboPeerRequest: Encodable, Sendable {
    var cmd: String
    var seq: Int = 0
    var path: String?
    var onlyHash: Bool?
    var addr: String?
    var cid: String?
    var dest: String?
    var timeoutS: Double?

    enum CodingKeys: String, CodingKey {
        case cmd, seq, path, addr, cid, dest
        case onlyHash = "only_hash"
        case timeoutS = "timeout_s"
    }
}

/// One reply line from `Tests/Compat/kubo_peer.py`: the union of every request's fields.
struct KuboPeerReply: Decodable, Sendable {
    var ok: Bool?
    var ready: Bool?
    var cmd: String?
    var seq: Int?
    var error: String?
    var id: PeerID?
    var addrs: [Multiaddr]?
    var cid: CID?
    var peers: [Multiaddr]?
    var pins: [CID]?
    var dest: String?
    var bytes: Int?

    /// A reply standing for a line that did not decode.
    static func undecodable(_ line: String, _ error: any Error) -> KuboPeerReply {
        KuboPeerReply(ok: false, error: "undecodable reply (\(error)): \(line)")
    }
}

/// Only the sequence number of a reply line (lines without one are the ready line's).
struct KuboPeerSeq: Decodable {
    var seq: Int?
}
