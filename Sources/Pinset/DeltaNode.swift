public import ClusterModel
public import Multiformats
public import Sodium
import UnixFS

/// One delta of the shared pinset: a signed, content-addressed DAG-CBOR node that links the
/// author's heads when it was made (`Specs/pinset-crdt.md`, "Delta node").
///
/// An added element's unique id is the CID of the node that adds it, so adds carry only
/// (key, value) and removes carry (key, ids of the adds they have seen).
public struct DeltaNode: Hashable, Sendable {
    public static let version: Int64 = 1
    /// The largest encoded node; keeps every node inside one RPC frame and one pubsub message.
    public static let maxBytes = 60_000
    /// Parents a node may link (a node links the author's heads; more means a wide fork).
    public static let maxParents = 64
    /// Domain separation for the signature.
    public static let signingPrefix: [UInt8] = Array("pinmesh-pinset-v1:".utf8)

    public var parents: [CID]
    /// Priority: 1 + the highest parent height (1 for a root).
    public var height: UInt64
    public var author: PeerID
    /// Added elements, at most one per key.
    public var adds: [Pin]
    /// Removed elements: for each key, the ids (node CIDs) of the adds that are tombstoned.
    /// A key may be both removed and added: an update tombstones the values it replaces.
    public var removes: [(key: CID, ids: [CID])]
    public var signature: [UInt8]

    public init(parents: [CID], height: UInt64, author: PeerID, adds: [Pin], removes: [(key: CID, ids: [CID])], signature: [UInt8] = []) {
        self.parents = parents.sorted()
        self.height = height
        self.author = author
        self.adds = adds
        self.removes = removes
        self.signature = signature
    }

    public static func == (a: DeltaNode, b: DeltaNode) -> Bool {
        a.parents == b.parents && a.height == b.height && a.author == b.author && a.adds == b.adds
            && a.signature == b.signature && a.removes.count == b.removes.count
            && zip(a.removes, b.removes).allSatisfy { $0.key == $1.key && $0.ids == $1.ids }
    }

    public func hash(into h: inout Hasher) {
        h.combine(parents)
        h.combine(height)
        h.combine(signature)
    }

    // MARK: Encoding

    func cbor(signed: Bool) -> DagCBOR {
        var m: [String: DagCBOR] = [
            "v": .int(DeltaNode.version),
            "h": .int(Int64(clamping: height)),
            "w": .bytes(author.bytes),
            "p": .list(parents.map { .link($0) }),
        ]
        if !adds.isEmpty {
            m["a"] = .list(adds.map { .list([.bytes($0.cid.bytes), PinCodec.encode($0)]) })
        }
        if !removes.isEmpty {
            m["r"] = .list(removes.map { .list([.bytes($0.key.bytes), .list($0.ids.map { .bytes($0.bytes) })]) })
        }
        if signed { m["s"] = .bytes(signature) }
        return .map(m)
    }

    /// The bytes that are signed (the node without `s`), after the signing prefix.
    public var unsignedEncoding: [UInt8] { cbor(signed: false).encoded() }

    /// The stored and transmitted form.
    public func encoded() -> [UInt8] { cbor(signed: true).encoded() }

    /// The node's CID: CIDv1, dag-cbor, SHA-256 of `encoded()`.
    public static func cid(of bytes: [UInt8]) -> CID { .v1(codec: .dagCBOR, .sha256(bytes)) }

    /// Fills in `signature` with the author's key; the key must be the author's.
    public mutating func sign(with key: Ed25519.PrivateKey) {
        signature = key.signature(for: DeltaNode.signingPrefix + unsignedEncoding)
    }

    /// Whether the signature verifies against the key inlined in the author's peer ID.
    public var hasValidSignature: Bool {
        guard let raw = author.ed25519PublicKey, let key = try? Ed25519.PublicKey(bytes: raw) else { return false }
        return key.isValidSignature(signature, for: DeltaNode.signingPrefix + unsignedEncoding)
    }

    // MARK: Decoding

    /// Decodes a node and checks everything that needs no other node: canonical encoding,
    /// limits, one add per key, ids that are CIDs. The signature is checked separately.
    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        guard bytes.count <= DeltaNode.maxBytes else {
            throw PinsetError(.tooLarge, "pinset node of \(bytes.count) bytes exceeds \(DeltaNode.maxBytes)")
        }
        let value: DagCBOR
        do throws(UnixFSError) { value = try DagCBOR(decoding: bytes) } catch {
            throw PinsetError(.malformed, "pinset node is not canonical DAG-CBOR: \(error.message)")
        }
        guard case .map(let m) = value else { throw PinsetError(.malformed, "pinset node is not a map") }
        for key in m.keys where !["v", "h", "w", "p", "a", "r", "s"].contains(key) {
            throw PinsetError(.malformed, "pinset node has unknown field \"\(key)\"")
        }
        guard case .int(let v)? = m["v"], v == DeltaNode.version else {
            throw PinsetError(.malformed, "pinset node version must be \(DeltaNode.version) (a newer PinMesh wrote it?)")
        }
        guard case .int(let h)? = m["h"], h >= 1 else { throw PinsetError(.malformed, "pinset node height must be an integer ≥ 1") }
        guard case .bytes(let w)? = m["w"], let author = try? PeerID(bytes: w) else {
            throw PinsetError(.malformed, "pinset node author must be a binary peer ID")
        }
        guard case .list(let ps)? = m["p"], ps.count <= DeltaNode.maxParents else {
            throw PinsetError(.malformed, "pinset node parents must be a list of at most \(DeltaNode.maxParents) links")
        }
        var parents: [CID] = []
        for p in ps {
            guard case .link(let c) = p else { throw PinsetError(.malformed, "pinset node parent is not a link") }
            if let last = parents.last, !(last < c) {
                throw PinsetError(.malformed, "pinset node parents must be sorted and distinct")
            }
            parents.append(c)
        }
        guard (h == 1) == parents.isEmpty else {
            throw PinsetError(.badHeight, "pinset node at height \(h) with \(parents.count) parents: only roots have height 1")
        }
        guard case .bytes(let sig)? = m["s"], sig.count == Ed25519.signatureBytes else {
            throw PinsetError(.malformed, "pinset node signature must be \(Ed25519.signatureBytes) bytes")
        }
        var adds: [Pin] = []
        var keys = Set<CID>()
        if let a = m["a"] {
            guard case .list(let items) = a, !items.isEmpty else { throw PinsetError(.malformed, "pinset node adds must be a non-empty list") }
            adds.reserveCapacity(items.count)
            for item in items {
                guard case .list(let pair) = item, pair.count == 2, case .bytes(let kb) = pair[0], let key = try? CID(bytes: kb) else {
                    throw PinsetError(.malformed, "pinset add must be [binary CID, pin value]")
                }
                guard keys.insert(key).inserted else { throw PinsetError(.malformed, "pinset node adds \(key) twice") }
                adds.append(try PinCodec.decode(pair[1], cid: key))
            }
        }
        var removes: [(key: CID, ids: [CID])] = []
        var removedKeys = Set<CID>()
        if let r = m["r"] {
            guard case .list(let items) = r, !items.isEmpty else { throw PinsetError(.malformed, "pinset node removes must be a non-empty list") }
            for item in items {
                guard case .list(let pair) = item, pair.count == 2, case .bytes(let kb) = pair[0], let key = try? CID(bytes: kb),
                    case .list(let idItems) = pair[1], !idItems.isEmpty, idItems.count <= DeltaNode.maxParents * 4
                else {
                    throw PinsetError(.malformed, "pinset remove must be [binary CID, non-empty list of node CIDs]")
                }
                guard removedKeys.insert(key).inserted else { throw PinsetError(.malformed, "pinset node removes \(key) twice") }
                var ids: [CID] = []
                for x in idItems {
                    guard case .bytes(let ib) = x, let id = try? CID(bytes: ib) else {
                        throw PinsetError(.malformed, "pinset remove id of \(key) is not a binary CID")
                    }
                    ids.append(id)
                }
                removes.append((key, ids))
            }
        }
        self.init(parents: parents, height: UInt64(h), author: author, adds: adds, removes: removes, signature: sig)
    }
}
