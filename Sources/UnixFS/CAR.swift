public import Multiformats

/// CAR v1 (content-addressed archive): a dag-cbor header `{roots, version: 1}` then sections
/// `varint(len) ‖ CID ‖ block`.
public enum CAR {
    /// The largest header accepted.
    public static let maxHeaderBytes = 32 * 1024
    /// The largest section accepted (a block of at most 2 MiB and its CID).
    public static let maxSectionBytes = 2 * 1024 * 1024 + 256

    /// The encoded header naming `roots`.
    public static func header(roots: [CID]) -> [UInt8] {
        let body = DagCBOR.map(["roots": .list(roots.map { .link($0) }), "version": .int(1)]).encoded()
        return Varint.encode(UInt64(body.count)) + body
    }

    /// One encoded section.
    public static func section(_ block: Block) -> [UInt8] {
        let cid = block.cid.bytes
        return Varint.encode(UInt64(cid.count + block.bytes.count)) + cid + block.bytes
    }

    /// The CIDs a block links to (dag-pb links, dag-cbor tag-42 links; none for raw).
    public static func links(of cid: CID, bytes: [UInt8]) throws(UnixFSError) -> [CID] {
        switch cid.codec {
        case .dagPB: return try PBNode(decoding: bytes).links.map(\.hash)
        case .dagCBOR:
            var out: [CID] = []
            func walk(_ v: DagCBOR) {
                switch v {
                case .link(let c): out.append(c)
                case .list(let items): items.forEach(walk)
                case .map(let m): for k in m.keys.sorted(by: DagCBOR.keyOrder) { walk(m[k]!) }
                default: break
                }
            }
            walk(try DagCBOR(decoding: bytes))
            return out
        default: return []
        }
    }
}

/// Reads a CAR v1 stream incrementally: feed bytes, take the header and blocks as they complete.
/// Every block is checked against its CID with `verify` (a block that fails is an error).
public struct CARReader: Sendable {
    public private(set) var roots: [CID]?
    private var buffer: [UInt8] = []
    private var offset = 0
    /// The first error; the reader stays failed after it (a bad section is never skipped).
    private var failure: UnixFSError?
    private let verify: @Sendable (CID, [UInt8]) -> Bool?

    /// - Parameter verify: returns whether the bytes hash to the CID, or nil when the hash
    ///   function is unknown (such blocks are refused: PinMesh cannot vouch for them).
    public init(verify: @escaping @Sendable (CID, [UInt8]) -> Bool?) {
        self.verify = verify
    }

    public mutating func feed(_ bytes: [UInt8]) {
        if offset > 0 && offset == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            offset = 0
        } else if offset > 1 << 20 && offset > buffer.count / 2 {
            // Compact only once half the buffer is consumed: each byte moves O(1) times.
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer += bytes
    }

    /// The next complete block, or nil when more input is needed. After an error every call
    /// throws that error again.
    public mutating func next() throws(UnixFSError) -> Block? {
        if let failure { throw failure }
        do {
            return try readNext()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func readNext() throws(UnixFSError) -> Block? {
        if roots == nil {
            guard let body = try frame(limit: CAR.maxHeaderBytes, what: "CAR header") else { return nil }
            let header = try DagCBOR(decoding: body)
            guard case .map(let m) = header, m.count == 2, m["version"] == .int(1),
                  case .list(let items)? = m["roots"] else {
                throw UnixFSError(.invalidValue, "CAR header must be {roots: [CID...], version: 1}")
            }
            var roots: [CID] = []
            for item in items {
                guard case .link(let c) = item else { throw UnixFSError(.invalidValue, "CAR header roots must be CIDs") }
                roots.append(c)
            }
            self.roots = roots
        }
        guard let section = try frame(limit: CAR.maxSectionBytes, what: "CAR section") else { return nil }
        var r = ByteReader(section)
        let cid: CID
        do throws(MultiformatsError) {
            cid = try CID.read(from: &r)
        } catch {
            throw UnixFSError(error, context: "CAR section CID")
        }
        let data = Array(section[r.offset...])
        switch verify(cid, data) {
        case true: return Block(cid: cid, bytes: data)
        case false: throw UnixFSError(.hashMismatch, "CAR block \(cid) does not match its CID (corrupt or forged)")
        case nil: throw UnixFSError(.unsupported, "CAR block \(cid) uses hash \(cid.multihash.code), which PinMesh cannot verify")
        }
    }

    /// Throws unless the input ended exactly after a complete section.
    public func finish() throws(UnixFSError) {
        if let failure { throw failure }
        guard roots != nil else { throw UnixFSError(.truncated, "CAR ended before its header was complete") }
        guard offset == buffer.count else {
            throw UnixFSError(.truncated, "CAR ended inside a section (\(buffer.count - offset) bytes left over)")
        }
    }

    /// Takes one varint-framed body, or nil when it is not complete yet.
    private mutating func frame(limit: Int, what: String) throws(UnixFSError) -> [UInt8]? {
        var r = ByteReader(buffer, offset: offset)
        let length: Int
        do throws(MultiformatsError) {
            length = try r.readLength(limit: limit, what: what)
        } catch {
            if error.code == .truncated { return nil }
            throw UnixFSError(error.code == .tooLong ? .tooLarge : .nonCanonical, "\(what): \(error.message)")
        }
        guard length > 0 else { throw UnixFSError(.invalidValue, "\(what) has length zero") }
        guard r.remaining >= length else { return nil }
        let body = Array(buffer[r.offset..<r.offset + length])
        offset = r.offset + length
        return body
    }
}
