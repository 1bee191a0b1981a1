public import ClusterModel
public import Multiformats
public import UnixFS

/// The compact DAG-CBOR form of a pin's value inside a delta (`Specs/pinset-crdt.md`, "Pin
/// value"). The CID is the element's key and is not repeated; fields at their default are
/// omitted, so the encoding of a plain pin is a few bytes.
public enum PinCodec {
    /// Limits on a decoded pin (each list and string).
    public static let maxAllocations = 256
    public static let maxMetadataEntries = 64
    public static let maxStringBytes = 1024
    public static let maxOrigins = 16

    public static func encode(_ pin: Pin) -> DagCBOR {
        var m: [String: DagCBOR] = [:]
        if pin.type != .data { m["t"] = .int(Int64(pin.type.rawValue)) }
        if !pin.allocations.isEmpty { m["a"] = .list(pin.allocations.map { .bytes($0.bytes) }) }
        if pin.maxDepth != -1 { m["d"] = .int(Int64(pin.maxDepth)) }
        if let r = pin.reference { m["r"] = .bytes(r.bytes) }
        if pin.timestamp.unixMillis != 0 { m["i"] = .int(pin.timestamp.unixMillis) }
        let o = pin.options
        if o.replicationFactorMin != 0 { m["rn"] = .int(Int64(o.replicationFactorMin)) }
        if o.replicationFactorMax != 0 { m["rx"] = .int(Int64(o.replicationFactorMax)) }
        if !o.name.isEmpty { m["n"] = .string(o.name) }
        if o.mode == .direct { m["o"] = .int(1) }
        if o.shardSize != 0 { m["s"] = .int(Int64(clamping: o.shardSize)) }
        if !o.userAllocations.isEmpty { m["ua"] = .list(o.userAllocations.map { .bytes($0.bytes) }) }
        if let e = o.expireAt, e.unixMillis != 0 { m["e"] = .int(e.unixMillis) }
        if !o.metadata.isEmpty { m["m"] = .map(o.metadata.mapValues { .string($0) }) }
        if let u = o.pinUpdate { m["pu"] = .bytes(u.bytes) }
        if !o.origins.isEmpty { m["g"] = .list(o.origins.map { .bytes($0.bytes) }) }
        return .map(m)
    }

    private static let knownKeys: Set<String> = ["t", "a", "d", "r", "i", "rn", "rx", "n", "o", "s", "ua", "e", "m", "pu", "g"]

    public static func decode(_ value: DagCBOR, cid: CID) throws(PinsetError) -> Pin {
        guard case .map(let m) = value else { throw PinsetError(.malformed, "pin value of \(cid) is not a map") }
        for key in m.keys where !knownKeys.contains(key) {
            throw PinsetError(.malformed, "pin value of \(cid) has unknown field \"\(key)\" (written by a newer PinMesh?)")
        }
        var pin = Pin(cid: cid)
        if let t = m["t"] {
            let raw = try int(t, "t", cid)
            guard let type = PinType(rawValue: Int(raw)), type != .data else {
                throw PinsetError(.malformed, "pin \(cid): type \(raw) is not 4, 8 or 16 (2 is the default and omitted)")
            }
            pin.type = type
        }
        if let a = m["a"] { pin.allocations = try peers(a, "a", cid) }
        if let d = m["d"] {
            let depth = try int(d, "d", cid)
            guard depth >= 0, depth <= Int64(Int32.max) else { throw PinsetError(.malformed, "pin \(cid): max depth \(depth) out of range") }
            pin.maxDepth = Int(depth)
        }
        if let r = m["r"] { pin.reference = try cidValue(r, "r", cid) }
        if let i = m["i"] { pin.timestamp = Timestamp(unixMillis: try int(i, "i", cid)) }
        var o = PinOptions()
        if let v = m["rn"] { o.replicationFactorMin = try replication(v, "rn", cid) }
        if let v = m["rx"] { o.replicationFactorMax = try replication(v, "rx", cid) }
        if let v = m["n"] { o.name = try string(v, "n", cid) }
        if let v = m["o"] {
            guard try int(v, "o", cid) == 1 else { throw PinsetError(.malformed, "pin \(cid): mode must be 1 (direct) or omitted") }
            o.mode = .direct
        }
        if let v = m["s"] {
            let s = try int(v, "s", cid)
            guard s > 0 else { throw PinsetError(.malformed, "pin \(cid): shard size must be positive") }
            o.shardSize = UInt64(s)
        }
        if let v = m["ua"] { o.userAllocations = try peers(v, "ua", cid) }
        if let v = m["e"] { o.expireAt = Timestamp(unixMillis: try int(v, "e", cid)) }
        if let v = m["m"] {
            guard case .map(let md) = v, md.count <= maxMetadataEntries else {
                throw PinsetError(.malformed, "pin \(cid): metadata must be a map of at most \(maxMetadataEntries) strings")
            }
            for (k, x) in md {
                guard k.utf8.count <= maxStringBytes else { throw PinsetError(.tooLarge, "pin \(cid): metadata key over \(maxStringBytes) bytes") }
                o.metadata[k] = try string(x, "m", cid)
            }
        }
        if let v = m["pu"] { o.pinUpdate = try cidValue(v, "pu", cid) }
        if let v = m["g"] {
            guard case .list(let items) = v, items.count <= maxOrigins else {
                throw PinsetError(.malformed, "pin \(cid): origins must be a list of at most \(maxOrigins)")
            }
            o.origins = try items.map { (item) throws(PinsetError) -> Multiaddr in
                guard case .bytes(let b) = item, let a = try? Multiaddr(bytes: b) else {
                    throw PinsetError(.malformed, "pin \(cid): an origin is not a binary multiaddr")
                }
                return a
            }
        }
        pin.options = o
        return pin
    }

    private static func int(_ v: DagCBOR, _ key: String, _ cid: CID) throws(PinsetError) -> Int64 {
        guard case .int(let i) = v else { throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" must be an integer") }
        return i
    }

    private static func replication(_ v: DagCBOR, _ key: String, _ cid: CID) throws(PinsetError) -> Int {
        let i = try int(v, key, cid)
        guard i >= -1, i <= 1024 else { throw PinsetError(.malformed, "pin \(cid): replication \(i) out of range -1...1024") }
        return Int(i)
    }

    private static func string(_ v: DagCBOR, _ key: String, _ cid: CID) throws(PinsetError) -> String {
        guard case .string(let s) = v else { throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" must be a string") }
        guard s.utf8.count <= maxStringBytes else { throw PinsetError(.tooLarge, "pin \(cid): field \"\(key)\" over \(maxStringBytes) bytes") }
        return s
    }

    private static func cidValue(_ v: DagCBOR, _ key: String, _ cid: CID) throws(PinsetError) -> CID {
        guard case .bytes(let b) = v, let c = try? CID(bytes: b) else {
            throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" must be a binary CID")
        }
        return c
    }

    private static func peers(_ v: DagCBOR, _ key: String, _ cid: CID) throws(PinsetError) -> [PeerID] {
        guard case .list(let items) = v, items.count <= maxAllocations else {
            throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" must be a list of at most \(maxAllocations) peer IDs")
        }
        return try items.map { (item) throws(PinsetError) -> PeerID in
            guard case .bytes(let b) = item, let p = try? PeerID(bytes: b) else {
                throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" holds something that is not a binary peer ID")
            }
            return p
        }
    }
}
