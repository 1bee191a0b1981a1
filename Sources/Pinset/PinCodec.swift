public import ClusterModel
public import Multiformats

/// The compact DAG-CBOR form of a pin's value inside a delta (`Specs/pinset-crdt.md`, "Pin
/// value"). The CID is the element's key and is not repeated; fields at their default are
/// omitted, so the encoding of a plain pin is a few bytes. Encoded and decoded directly (no
/// intermediate tree): this is the apply path's inner loop.
public enum PinCodec {
    /// Limits on a decoded pin (each list and string).
    public static let maxAllocations = 256
    public static let maxMetadataEntries = 64
    public static let maxStringBytes = 1024
    public static let maxOrigins = 16

    /// The canonical encoding of `pin`'s value (keys in DAG-CBOR order, defaults omitted).
    public static func encode(_ pin: Pin) -> [UInt8] {
        var w = CBORWriter()
        encode(pin, into: &w)
        return w.bytes
    }

    static func encode(_ pin: Pin, into w: inout CBORWriter) {
        let o = pin.options
        let expire = o.expireAt.flatMap { $0.unixMillis != 0 ? $0 : nil }
        // DAG-CBOR key order: one-letter keys a d e g i m n o r s t, then pu rn rx ua.
        let present = [
            !pin.allocations.isEmpty, pin.maxDepth != -1, expire != nil, !o.origins.isEmpty, pin.timestamp.unixMillis != 0,
            !o.metadata.isEmpty, !o.name.isEmpty, o.mode == .direct, pin.reference != nil, o.shardSize != 0, pin.type != .data,
            o.pinUpdate != nil, o.replicationFactorMin != 0, o.replicationFactorMax != 0, !o.userAllocations.isEmpty,
        ]
        w.head(5, UInt64(present.count { $0 }))
        if present[0] {
            w.key("a")
            w.head(4, UInt64(pin.allocations.count))
            for p in pin.allocations { w.data(p.bytes) }
        }
        if present[1] { w.key("d"); w.int(Int64(pin.maxDepth)) }
        if let e = expire { w.key("e"); w.int(e.unixMillis) }
        if present[3] {
            w.key("g")
            w.head(4, UInt64(o.origins.count))
            for a in o.origins { w.data(a.bytes) }
        }
        if present[4] { w.key("i"); w.int(pin.timestamp.unixMillis) }
        if present[5] {
            w.key("m")
            w.head(5, UInt64(o.metadata.count))
            for k in o.metadata.keys.sorted(by: { $0.utf8.count != $1.utf8.count ? $0.utf8.count < $1.utf8.count : $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                w.text(k)
                w.text(o.metadata[k]!)
            }
        }
        if present[6] { w.key("n"); w.text(o.name) }
        if present[7] { w.key("o"); w.int(1) }
        if let r = pin.reference { w.key("r"); w.data(r.bytes) }
        if present[9] { w.key("s"); w.int(Int64(clamping: o.shardSize)) }
        if present[10] { w.key("t"); w.int(Int64(pin.type.rawValue)) }
        if let u = o.pinUpdate { w.key("pu"); w.data(u.bytes) }
        if present[12] { w.key("rn"); w.int(Int64(o.replicationFactorMin)) }
        if present[13] { w.key("rx"); w.int(Int64(o.replicationFactorMax)) }
        if present[14] {
            w.key("ua")
            w.head(4, UInt64(o.userAllocations.count))
            for p in o.userAllocations { w.data(p.bytes) }
        }
    }

    /// Checks `pin` against every limit ``decode(_:cid:)`` holds a stored pin to, so that what is
    /// written can always be read back, listed, exported and replicated. Every writer calls this
    /// before anything is committed; the message names the option (as the REST API spells it)
    /// and the limit.
    public static func validate(_ pin: Pin) throws(PinsetError) {
        try validate(pin.options)
        guard pin.allocations.count <= maxAllocations else {
            throw PinsetError(.tooLarge, "the pin names \(pin.allocations.count) allocations; at most \(maxAllocations) peers are stored")
        }
        guard pin.maxDepth >= -1, pin.maxDepth <= Int(Int32.max) else {
            throw PinsetError(.malformed, "max depth \(pin.maxDepth) is out of range: use -1 (the whole DAG) or 0 to \(Int32.max)")
        }
    }

    /// The options' part of ``validate(_:)-(Pin)``: what a request can be refused for before
    /// any of its work (an upload, an allocation) is done.
    public static func validate(_ o: PinOptions) throws(PinsetError) {
        func text(_ value: String, _ what: String) throws(PinsetError) {
            let n = value.utf8.count
            guard n <= maxStringBytes else {
                throw PinsetError(.tooLarge, "\(what) is \(n) bytes long; a pin stores at most \(maxStringBytes) bytes there: shorten it")
            }
        }
        try text(o.name, "the pin's name")
        guard o.metadata.count <= maxMetadataEntries else {
            throw PinsetError(.tooLarge, "the pin has \(o.metadata.count) metadata entries (meta-*); at most \(maxMetadataEntries) are stored")
        }
        for (k, v) in o.metadata.sorted(by: { $0.key < $1.key }) {
            try text(k, "metadata key \(String(k.prefix(40)).debugDescription)")
            try text(v, "the value of metadata key meta-\(String(k.prefix(40)))")
        }
        guard o.origins.count <= maxOrigins else {
            throw PinsetError(.tooLarge, "the pin names \(o.origins.count) origins; at most \(maxOrigins) are stored")
        }
        guard o.userAllocations.count <= maxAllocations else {
            throw PinsetError(.tooLarge, "the pin names \(o.userAllocations.count) user-allocations; at most \(maxAllocations) peers are stored")
        }
        for (r, what) in [(o.replicationFactorMin, "replication-min"), (o.replicationFactorMax, "replication-max")] where r < -1 || r > 1024 {
            throw PinsetError(.malformed, "\(what) \(r) is out of range: use -1 (every peer), 0 (the cluster's default) or 1 to 1024")
        }
        guard o.shardSize <= UInt64(Int64.max) else {
            throw PinsetError(.malformed, "shard size \(o.shardSize) is out of range: at most \(Int64.max) bytes")
        }
    }

    /// Decodes one encoded pin value that fills `bytes`.
    public static func decode(_ bytes: [UInt8], cid: CID) throws(PinsetError) -> Pin {
        var r = CBORScanner(bytes, what: "pin value of \(cid)")
        let pin = try decode(&r, cid: cid)
        guard r.atEnd else { throw r.fail("bytes after the value") }
        return pin
    }

    static func decode(_ r: inout CBORScanner, cid: CID) throws(PinsetError) -> Pin {
        let n = try r.count(5, "a map")
        var pin = Pin(cid: cid)
        var previous: ArraySlice<UInt8>?
        for _ in 0..<n {
            let k = try r.key(after: &previous)
            if k.is("a") {
                pin.allocations = try peers(&r, "a", cid)
            } else if k.is("d") {
                let depth = try r.int()
                guard depth >= 0, depth <= Int64(Int32.max) else { throw PinsetError(.malformed, "pin \(cid): max depth \(depth) out of range") }
                pin.maxDepth = Int(depth)
            } else if k.is("e") {
                pin.options.expireAt = Timestamp(unixMillis: try nonDefault(r.int(), "e", cid))
            } else if k.is("g") {
                let count = try r.count(4, "origins")
                guard count > 0, count <= maxOrigins else {
                    throw PinsetError(.malformed, "pin \(cid): origins must be a non-empty list of at most \(maxOrigins) (omitted when empty)")
                }
                for _ in 0..<count {
                    let b = try r.data()
                    guard let a = try? Multiaddr(bytes: Array(b)) else { throw PinsetError(.malformed, "pin \(cid): an origin is not a binary multiaddr") }
                    pin.options.origins.append(a)
                }
            } else if k.is("i") {
                pin.timestamp = Timestamp(unixMillis: try nonDefault(r.int(), "i", cid))
            } else if k.is("m") {
                let count = try r.count(5, "metadata")
                guard count > 0, count <= maxMetadataEntries else {
                    throw PinsetError(.malformed, "pin \(cid): metadata must be a non-empty map of at most \(maxMetadataEntries) strings (omitted when empty)")
                }
                var prev: ArraySlice<UInt8>?
                for _ in 0..<count {
                    let mk = try r.key(after: &prev)
                    guard mk.count <= maxStringBytes, let key = String(validating: mk, as: UTF8.self) else {
                        throw PinsetError(.tooLarge, "pin \(cid): metadata key over \(maxStringBytes) bytes or not UTF-8")
                    }
                    pin.options.metadata[key] = try string(&r, "m", cid)
                }
            } else if k.is("n") {
                pin.options.name = try string(&r, "n", cid)
                guard !pin.options.name.isEmpty else { throw PinsetError(.malformed, "pin \(cid): an empty name is omitted, not written") }
            } else if k.is("o") {
                guard try r.int() == 1 else { throw PinsetError(.malformed, "pin \(cid): mode must be 1 (direct) or omitted") }
                pin.options.mode = .direct
            } else if k.is("r") {
                pin.reference = try cidValue(&r, "r", cid)
            } else if k.is("s") {
                let size = try r.int()
                guard size > 0 else { throw PinsetError(.malformed, "pin \(cid): shard size must be positive") }
                pin.options.shardSize = UInt64(size)
            } else if k.is("t") {
                let raw = try r.int()
                guard let type = PinType(rawValue: Int(raw)), type != .data else {
                    throw PinsetError(.malformed, "pin \(cid): type \(raw) is not 4, 8 or 16 (2 is the default and omitted)")
                }
                pin.type = type
            } else if k.is("pu") {
                pin.options.pinUpdate = try cidValue(&r, "pu", cid)
            } else if k.is("rn") {
                pin.options.replicationFactorMin = try replication(&r, "rn", cid)
            } else if k.is("rx") {
                pin.options.replicationFactorMax = try replication(&r, "rx", cid)
            } else if k.is("ua") {
                pin.options.userAllocations = try peers(&r, "ua", cid)
            } else {
                throw PinsetError(.malformed, "pin value of \(cid) has unknown field \"\(String(decoding: k, as: UTF8.self))\" (written by a newer PinMesh?)")
            }
        }
        return pin
    }

    /// A field at its default value is omitted; writing it would give one pin two encodings.
    private static func nonDefault(_ v: Int64, _ key: String, _ cid: CID) throws(PinsetError) -> Int64 {
        guard v != 0 else { throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" at its default (0) must be omitted") }
        return v
    }

    private static func replication(_ r: inout CBORScanner, _ key: String, _ cid: CID) throws(PinsetError) -> Int {
        let i = try nonDefault(r.int(), key, cid)
        guard i >= -1, i <= 1024 else { throw PinsetError(.malformed, "pin \(cid): replication \(i) out of range -1...1024") }
        return Int(i)
    }

    private static func string(_ r: inout CBORScanner, _ key: String, _ cid: CID) throws(PinsetError) -> String {
        let s = try r.text()
        guard s.utf8.count <= maxStringBytes else { throw PinsetError(.tooLarge, "pin \(cid): field \"\(key)\" over \(maxStringBytes) bytes") }
        return s
    }

    private static func cidValue(_ r: inout CBORScanner, _ key: String, _ cid: CID) throws(PinsetError) -> CID {
        let b = try r.data()
        guard let c = try? CID(bytes: Array(b)) else { throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" must be a binary CID") }
        return c
    }

    private static func peers(_ r: inout CBORScanner, _ key: String, _ cid: CID) throws(PinsetError) -> [PeerID] {
        let count = try r.count(4, "a list")
        guard count > 0, count <= maxAllocations else {
            throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" must be a non-empty list of at most \(maxAllocations) peer IDs (omitted when empty)")
        }
        var out: [PeerID] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let b = try r.data()
            guard let p = try? PeerID(bytes: Array(b)) else {
                throw PinsetError(.malformed, "pin \(cid): field \"\(key)\" holds something that is not a binary peer ID")
            }
            out.append(p)
        }
        return out
    }
}
