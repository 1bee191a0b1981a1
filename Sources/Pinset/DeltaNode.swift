public import ClusterModel
public import Multiformats
public import Sodium

/// One delta of the shared pinset: a signed, content-addressed DAG-CBOR node that links the
/// author's heads when it was made (`Specs/pinset-crdt.md`, "Delta node").
///
/// An added element's unique id is the CID of the node that adds it, so adds carry only
/// (key, value) and removes carry (key, ids of the adds they have seen).
public struct DeltaNode: Hashable, Sendable {
    /// The version of a node without re-allocations; a node with them is `reallocationVersion`,
    /// so a PinMesh that predates them refuses it with a clear message instead of misreading it.
    public static let version: Int64 = 1
    public static let reallocationVersion: Int64 = 2
    /// Element ids one remove or re-allocation may list.
    public static let maxIDs = maxParents * 4
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
    /// Re-allocations: for each key (`pin.cid`), the ids of the elements the author saw and
    /// their new value. They change only those elements, and only while they are live.
    public var reallocations: [(targets: [CID], pin: Pin)]
    public var signature: [UInt8]

    public init(
        parents: [CID], height: UInt64, author: PeerID, adds: [Pin], removes: [(key: CID, ids: [CID])],
        reallocations: [(targets: [CID], pin: Pin)] = [], signature: [UInt8] = []
    ) {
        self.parents = parents.sorted()
        self.height = height
        self.author = author
        self.adds = adds
        self.removes = removes
        self.reallocations = reallocations
        self.signature = signature
    }

    public static func == (a: DeltaNode, b: DeltaNode) -> Bool {
        a.parents == b.parents && a.height == b.height && a.author == b.author && a.adds == b.adds
            && a.signature == b.signature && a.removes.count == b.removes.count
            && zip(a.removes, b.removes).allSatisfy { $0.key == $1.key && $0.ids == $1.ids }
            && a.reallocations.count == b.reallocations.count
            && zip(a.reallocations, b.reallocations).allSatisfy { $0.targets == $1.targets && $0.pin == $1.pin }
    }

    public func hash(into h: inout Hasher) {
        h.combine(parents)
        h.combine(height)
        h.combine(signature)
    }

    // MARK: Encoding

    /// Keys in DAG-CBOR order: a h p r s u v w.
    func encode(signed: Bool) -> [UInt8] {
        var w = CBORWriter(capacity: 64 + (adds.count + reallocations.count) * 160)
        w.head(5, UInt64(4 + (adds.isEmpty ? 0 : 1) + (removes.isEmpty ? 0 : 1) + (reallocations.isEmpty ? 0 : 1) + (signed ? 1 : 0)))
        if !adds.isEmpty {
            w.key("a")
            w.head(4, UInt64(adds.count))
            for pin in adds {
                w.head(4, 2)
                w.data(pin.cid.bytes)
                PinCodec.encode(pin, into: &w)
            }
        }
        w.key("h")
        w.int(Int64(clamping: height))
        w.key("p")
        w.head(4, UInt64(parents.count))
        for p in parents { w.link(p) }
        if !removes.isEmpty {
            w.key("r")
            w.head(4, UInt64(removes.count))
            for r in removes {
                w.head(4, 2)
                w.data(r.key.bytes)
                w.head(4, UInt64(r.ids.count))
                for id in r.ids { w.data(id.bytes) }
            }
        }
        if signed {
            w.key("s")
            w.data(signature)
        }
        if !reallocations.isEmpty {
            w.key("u")
            w.head(4, UInt64(reallocations.count))
            for r in reallocations {
                w.head(4, 3)
                w.data(r.pin.cid.bytes)
                w.head(4, UInt64(r.targets.count))
                for id in r.targets { w.data(id.bytes) }
                PinCodec.encode(r.pin, into: &w)
            }
        }
        w.key("v")
        w.int(reallocations.isEmpty ? DeltaNode.version : DeltaNode.reallocationVersion)
        w.key("w")
        w.data(author.bytes)
        return w.bytes
    }

    /// The bytes that are signed (the node without `s`), after the signing prefix.
    public var unsignedEncoding: [UInt8] { encode(signed: false) }

    /// The stored and transmitted form.
    public func encoded() -> [UInt8] { encode(signed: true) }

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
    /// limits, one add and one remove per key, ids that are CIDs. The signature is checked
    /// separately (`hasValidSignature`).
    public init(decoding bytes: [UInt8]) throws(PinsetError) {
        guard bytes.count <= DeltaNode.maxBytes else {
            throw PinsetError(.tooLarge, "pinset node of \(bytes.count) bytes exceeds \(DeltaNode.maxBytes)")
        }
        var r = CBORScanner(bytes, what: "pinset node")
        let fields = try r.count(5, "a map")
        var previous: ArraySlice<UInt8>?
        var version: Int64?, height: Int64?, author: PeerID?, parents: [CID]?, signature: [UInt8]?
        var adds: [Pin] = []
        var removes: [(key: CID, ids: [CID])] = []
        var reallocations: [(targets: [CID], pin: Pin)] = []
        for _ in 0..<fields {
            let k = try r.key(after: &previous)
            if k.is("a") {
                let n = try r.count(4, "adds")
                guard n > 0 else { throw PinsetError(.malformed, "pinset node adds must be a non-empty list") }
                adds.reserveCapacity(n)
                var keys = Set<CID>(minimumCapacity: n)
                for _ in 0..<n {
                    guard try r.count(4, "an add") == 2, let key = try? CID(bytes: Array(try r.data())) else {
                        throw PinsetError(.malformed, "pinset add must be [binary CID, pin value]")
                    }
                    guard keys.insert(key).inserted else { throw PinsetError(.malformed, "pinset node adds \(key) twice") }
                    adds.append(try PinCodec.decode(&r, cid: key))
                }
            } else if k.is("h") {
                height = try r.int()
            } else if k.is("p") {
                let n = try r.count(4, "parents")
                guard n <= DeltaNode.maxParents else {
                    throw PinsetError(.malformed, "pinset node parents must be a list of at most \(DeltaNode.maxParents) links")
                }
                var ps: [CID] = []
                for _ in 0..<n {
                    let c = try r.link()
                    if let last = ps.last, !(last < c) { throw PinsetError(.malformed, "pinset node parents must be sorted and distinct") }
                    ps.append(c)
                }
                parents = ps
            } else if k.is("r") {
                let n = try r.count(4, "removes")
                guard n > 0 else { throw PinsetError(.malformed, "pinset node removes must be a non-empty list") }
                var keys = Set<CID>(minimumCapacity: n)
                for _ in 0..<n {
                    guard try r.count(4, "a remove") == 2, let key = try? CID(bytes: Array(try r.data())) else {
                        throw PinsetError(.malformed, "pinset remove must be [binary CID, non-empty list of node CIDs]")
                    }
                    let m = try r.count(4, "remove ids")
                    guard m > 0, m <= DeltaNode.maxIDs else {
                        throw PinsetError(.malformed, "pinset remove must be [binary CID, non-empty list of node CIDs]")
                    }
                    guard keys.insert(key).inserted else { throw PinsetError(.malformed, "pinset node removes \(key) twice") }
                    var ids: [CID] = []
                    for _ in 0..<m {
                        guard let id = try? CID(bytes: Array(try r.data())) else {
                            throw PinsetError(.malformed, "pinset remove id of \(key) is not a binary CID")
                        }
                        ids.append(id)
                    }
                    removes.append((key, ids))
                }
            } else if k.is("s") {
                signature = Array(try r.data())
            } else if k.is("u") {
                let n = try r.count(4, "re-allocations")
                guard n > 0 else { throw PinsetError(.malformed, "pinset node re-allocations must be a non-empty list") }
                var keys = Set<CID>(minimumCapacity: n)
                for _ in 0..<n {
                    guard try r.count(4, "a re-allocation") == 3, let key = try? CID(bytes: Array(try r.data())) else {
                        throw PinsetError(.malformed, "pinset re-allocation must be [binary CID, non-empty list of node CIDs, pin value]")
                    }
                    let m = try r.count(4, "re-allocation ids")
                    guard m > 0, m <= DeltaNode.maxIDs else {
                        throw PinsetError(.malformed, "pinset re-allocation of \(key) must list 1 to \(DeltaNode.maxIDs) node CIDs")
                    }
                    guard keys.insert(key).inserted else { throw PinsetError(.malformed, "pinset node re-allocates \(key) twice") }
                    var ids: [CID] = []
                    for _ in 0..<m {
                        guard let id = try? CID(bytes: Array(try r.data())) else {
                            throw PinsetError(.malformed, "pinset re-allocation id of \(key) is not a binary CID")
                        }
                        ids.append(id)
                    }
                    reallocations.append((ids, try PinCodec.decode(&r, cid: key)))
                }
            } else if k.is("v") {
                version = try r.int()
            } else if k.is("w") {
                author = try? PeerID(bytes: Array(try r.data()))
                guard author != nil else { throw PinsetError(.malformed, "pinset node author must be a binary peer ID") }
            } else {
                throw PinsetError(.malformed, "pinset node has unknown field \"\(String(decoding: k, as: UTF8.self))\"")
            }
        }
        guard r.atEnd else { throw PinsetError(.malformed, "pinset node: \(bytes.count - r.offset) bytes after the value") }
        let expectedVersion = reallocations.isEmpty ? DeltaNode.version : DeltaNode.reallocationVersion
        guard version == expectedVersion else {
            throw PinsetError(
                .malformed,
                "pinset node version must be \(expectedVersion) \(reallocations.isEmpty ? "without" : "with") re-allocations, not \(version.map(String.init) ?? "absent") (a newer PinMesh wrote it? upgrade this peer)")
        }
        if !reallocations.isEmpty {
            let touched = Set(adds.map(\.cid)).union(removes.map(\.key))
            if let both = reallocations.first(where: { touched.contains($0.pin.cid) }) {
                throw PinsetError(.malformed, "pinset node both re-allocates and adds or removes \(both.pin.cid)")
            }
        }
        guard let h = height, h >= 1 else { throw PinsetError(.malformed, "pinset node height must be an integer ≥ 1") }
        guard let author else { throw PinsetError(.malformed, "pinset node author must be a binary peer ID") }
        guard let parents else { throw PinsetError(.malformed, "pinset node parents must be a list of at most \(DeltaNode.maxParents) links") }
        guard (h == 1) == parents.isEmpty else {
            throw PinsetError(.badHeight, "pinset node at height \(h) with \(parents.count) parents: only roots have height 1")
        }
        guard let signature, signature.count == Ed25519.signatureBytes else {
            throw PinsetError(.malformed, "pinset node signature must be \(Ed25519.signatureBytes) bytes")
        }
        self.init(
            parents: parents, height: UInt64(h), author: author, adds: adds, removes: removes, reallocations: reallocations, signature: signature)
    }
}
