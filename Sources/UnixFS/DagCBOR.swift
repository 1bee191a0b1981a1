public import Multiformats

/// A DAG-CBOR value: the deterministic CBOR subset of the DAG-CBOR specification.
///
/// Encoding is canonical (minimal integer and length heads, map keys sorted by length then
/// bytes, floats always 64-bit, CIDs as tag 42 over `0x00 ‖ cid`). Decoding accepts only that
/// canonical form and rejects everything else with a typed error.
public indirect enum DagCBOR: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case bytes([UInt8])
    case string(String)
    case list([DagCBOR])
    case map([String: DagCBOR])
    case link(CID)

    /// Nesting deeper than this is rejected (stack safety on hostile input).
    public static let maxDepth = 64
    /// Blocks larger than this are rejected.
    public static let maxBytes = 2 * 1024 * 1024

    // MARK: Encoding

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends a minimal head (major type and argument); shared with the pinset's direct writer.
    public static func head(_ major: UInt8, _ value: UInt64, into out: inout [UInt8]) {
        let m = major << 5
        switch value {
        case 0..<24: out.append(m | UInt8(value))
        case 24...0xff: out += [m | 24, UInt8(value)]
        case 0x100...0xffff: out += [m | 25, UInt8(value >> 8), UInt8(value & 0xff)]
        case 0x10000...0xffff_ffff:
            out.append(m | 26)
            for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(s))) }
        default:
            out.append(m | 27)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(s))) }
        }
    }

    /// DAG-CBOR's map key order: shorter keys first, then bytewise.
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        return x.count != y.count ? x.count < y.count : x.lexicographicallyPrecedes(y)
    }

    func encode(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(0xf6)
        case .bool(let b): out.append(b ? 0xf5 : 0xf4)
        case .int(let i):
            if i >= 0 { DagCBOR.head(0, UInt64(i), into: &out) } else { DagCBOR.head(1, UInt64(-(i + 1)), into: &out) }
        case .float(let d):
            out.append(0xfb)
            let bits = d.bitPattern
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: bits >> UInt64(s))) }
        case .bytes(let b):
            DagCBOR.head(2, UInt64(b.count), into: &out)
            out += b
        case .string(let s):
            DagCBOR.head(3, UInt64(s.utf8.count), into: &out)
            out += s.utf8
        case .list(let items):
            DagCBOR.head(4, UInt64(items.count), into: &out)
            for item in items { item.encode(into: &out) }
        case .map(let entries):
            DagCBOR.head(5, UInt64(entries.count), into: &out)
            for key in entries.keys.sorted(by: DagCBOR.keyOrder) {
                DagCBOR.string(key).encode(into: &out)
                entries[key]!.encode(into: &out)
            }
        case .link(let cid):
            out += [0xd8, 42]
            let b = cid.bytes
            DagCBOR.head(2, UInt64(b.count + 1), into: &out)
            out.append(0)
            out += b
        }
    }

    // MARK: Decoding

    /// Decodes one value that fills `bytes` exactly.
    public init(decoding bytes: [UInt8]) throws(UnixFSError) {
        guard bytes.count <= DagCBOR.maxBytes else {
            throw UnixFSError(.tooLarge, "dag-cbor block of \(bytes.count) bytes exceeds \(DagCBOR.maxBytes)")
        }
        var offset = 0
        self = try DagCBOR.decode(bytes, &offset, depth: 0)
        guard offset == bytes.count else {
            throw UnixFSError(.nonCanonical, "dag-cbor: \(bytes.count - offset) bytes after the value")
        }
    }

    private static func readHead(_ b: [UInt8], _ o: inout Int) throws(UnixFSError) -> (major: UInt8, info: UInt8, value: UInt64) {
        guard o < b.count else { throw UnixFSError(.truncated, "dag-cbor: input ends before a value") }
        let initial = b[o]
        o += 1
        let major = initial >> 5, info = initial & 0x1f
        let width: Int
        switch info {
        case 0..<24: return (major, info, UInt64(info))
        case 24: width = 1
        case 25: width = 2
        case 26: width = 4
        case 27: width = 8
        case 31: throw UnixFSError(.nonCanonical, "dag-cbor: indefinite lengths are not allowed")
        default: throw UnixFSError(.nonCanonical, "dag-cbor: reserved additional info \(info)")
        }
        guard b.count - o >= width else { throw UnixFSError(.truncated, "dag-cbor: head truncated") }
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(b[o + i]) }
        o += width
        if major != 7 {
            let minimal: Bool
            switch width {
            case 1: minimal = v >= 24
            case 2: minimal = v > 0xff
            case 4: minimal = v > 0xffff
            default: minimal = v > 0xffff_ffff
            }
            guard minimal else { throw UnixFSError(.nonCanonical, "dag-cbor: \(v) is not minimally encoded") }
        }
        return (major, info, v)
    }

    private static func take(_ b: [UInt8], _ o: inout Int, _ n: UInt64, _ what: String) throws(UnixFSError) -> ArraySlice<UInt8> {
        guard n <= UInt64(b.count - o) else { throw UnixFSError(.truncated, "dag-cbor: \(what) of \(n) bytes overruns the input") }
        defer { o += Int(n) }
        return b[o..<o + Int(n)]
    }

    private static func decode(_ b: [UInt8], _ o: inout Int, depth: Int) throws(UnixFSError) -> DagCBOR {
        guard depth < maxDepth else { throw UnixFSError(.tooLarge, "dag-cbor: nested deeper than \(maxDepth)") }
        let h = try readHead(b, &o)
        switch h.major {
        case 0:
            guard h.value <= UInt64(Int64.max) else { throw UnixFSError(.invalidValue, "dag-cbor: integer \(h.value) exceeds 2^63-1") }
            return .int(Int64(h.value))
        case 1:
            guard h.value <= UInt64(Int64.max) else { throw UnixFSError(.invalidValue, "dag-cbor: integer -1-\(h.value) below -2^63") }
            return .int(-1 - Int64(h.value))
        case 2: return .bytes(Array(try take(b, &o, h.value, "byte string")))
        case 3:
            let raw = try take(b, &o, h.value, "text string")
            guard let s = String(validating: raw, as: UTF8.self) else { throw UnixFSError(.invalidValue, "dag-cbor: string is not valid UTF-8") }
            return .string(s)
        case 4:
            guard h.value <= UInt64(b.count - o) else { throw UnixFSError(.truncated, "dag-cbor: list of \(h.value) items overruns the input") }
            var items: [DagCBOR] = []
            items.reserveCapacity(Int(h.value))
            for _ in 0..<h.value { items.append(try decode(b, &o, depth: depth + 1)) }
            return .list(items)
        case 5:
            guard h.value <= UInt64(b.count - o) else { throw UnixFSError(.truncated, "dag-cbor: map of \(h.value) entries overruns the input") }
            var entries: [String: DagCBOR] = [:]
            var previous: String?
            for _ in 0..<h.value {
                guard case .string(let key) = try decode(b, &o, depth: depth + 1) else {
                    throw UnixFSError(.invalidValue, "dag-cbor: map keys must be strings")
                }
                if let previous {
                    guard keyOrder(previous, key) else {
                        throw UnixFSError(.nonCanonical, "dag-cbor: map key \"\(key)\" duplicated or out of order")
                    }
                }
                previous = key
                entries[key] = try decode(b, &o, depth: depth + 1)
            }
            return .map(entries)
        case 6:
            guard h.value == 42 else { throw UnixFSError(.invalidValue, "dag-cbor: tag \(h.value) is not allowed (only 42, CID)") }
            guard case .bytes(let raw) = try decode(b, &o, depth: depth + 1), raw.first == 0 else {
                throw UnixFSError(.invalidValue, "dag-cbor: tag 42 must wrap bytes starting 0x00")
            }
            do throws(MultiformatsError) {
                return .link(try CID(bytes: Array(raw.dropFirst())))
            } catch {
                throw UnixFSError(error, context: "dag-cbor link")
            }
        default:
            switch h.info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 27:
                let d = Double(bitPattern: h.value)
                guard d.isFinite else { throw UnixFSError(.invalidValue, "dag-cbor: NaN and infinities are not allowed") }
                return .float(d)
            case 25, 26: throw UnixFSError(.nonCanonical, "dag-cbor: floats must be 64-bit")
            default: throw UnixFSError(.invalidValue, "dag-cbor: simple value \(h.info) is not allowed")
            }
        }
    }

    // MARK: Access

    public subscript(key: String) -> DagCBOR? {
        if case .map(let m) = self { return m[key] }
        return nil
    }
}
