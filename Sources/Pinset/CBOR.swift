import Multiformats
import UnixFS

/// Writes canonical DAG-CBOR directly (no intermediate tree): the pinset's hot path encodes
/// thousands of pins a second. The caller writes map keys in DAG-CBOR order (shorter first,
/// then bytewise); `PinCodec` and `DeltaNode` do, and tests compare with `DagCBOR`.
struct CBORWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func head(_ major: UInt8, _ value: UInt64) { DagCBOR.head(major, value, into: &bytes) }

    mutating func int(_ v: Int64) { if v >= 0 { head(0, UInt64(v)) } else { head(1, UInt64(-(v + 1))) } }
    mutating func data(_ b: some Collection<UInt8>) {
        head(2, UInt64(b.count))
        bytes += b
    }
    mutating func text(_ s: String) {
        head(3, UInt64(s.utf8.count))
        bytes += s.utf8
    }
    mutating func key(_ s: StaticString) {
        head(3, UInt64(s.utf8CodeUnitCount))
        s.withUTF8Buffer { bytes += $0 }
    }
    mutating func link(_ c: CID) {
        let b = c.bytes
        bytes += [0xd8, 42]
        head(2, UInt64(b.count + 1))
        bytes.append(0)
        bytes += b
    }
}

/// Reads canonical DAG-CBOR from a buffer without building a tree, refusing every
/// non-canonical form the generic `DagCBOR` decoder refuses (non-minimal heads, indefinite
/// lengths, map keys out of order or repeated, tags other than 42, floats).
struct CBORScanner {
    let bytes: [UInt8]
    var offset: Int
    let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        offset = 0
        self.what = what
    }

    var atEnd: Bool { offset == bytes.count }

    func fail(_ message: String) -> PinsetError { PinsetError(.malformed, "\(what): \(message)") }

    mutating func head() throws(PinsetError) -> (major: UInt8, value: UInt64) {
        guard offset < bytes.count else { throw fail("input ends before a value") }
        let initial = bytes[offset]
        offset += 1
        let major = initial >> 5, info = initial & 0x1f
        let width: Int
        switch info {
        case 0..<24: return (major, UInt64(info))
        case 24: width = 1
        case 25: width = 2
        case 26: width = 4
        case 27: width = 8
        default: throw fail("indefinite length or reserved value (additional info \(info))")
        }
        guard bytes.count - offset >= width else { throw fail("value head truncated") }
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += width
        guard major != 7 else { throw fail("floats and simple values are not allowed here") }
        let minimal = width == 1 ? v >= 24 : width == 2 ? v > 0xff : width == 4 ? v > 0xffff : v > 0xffff_ffff
        guard minimal else { throw fail("\(v) is not minimally encoded") }
        return (major, v)
    }

    mutating func expect(_ major: UInt8, _ name: String) throws(PinsetError) -> UInt64 {
        let h = try head()
        guard h.major == major else { throw fail("expected \(name)") }
        return h.value
    }

    mutating func int() throws(PinsetError) -> Int64 {
        let h = try head()
        guard h.value <= UInt64(Int64.max) else { throw fail("integer out of range") }
        switch h.major {
        case 0: return Int64(h.value)
        case 1: return -1 - Int64(h.value)
        default: throw fail("expected an integer")
        }
    }

    mutating func slice(_ n: UInt64) throws(PinsetError) -> ArraySlice<UInt8> {
        guard n <= UInt64(bytes.count - offset) else { throw fail("string of \(n) bytes overruns the input") }
        defer { offset += Int(n) }
        return bytes[offset..<offset + Int(n)]
    }

    mutating func data() throws(PinsetError) -> ArraySlice<UInt8> { try slice(try expect(2, "a byte string")) }

    mutating func text() throws(PinsetError) -> String {
        let raw = try slice(try expect(3, "a text string"))
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("text is not valid UTF-8") }
        return s
    }

    /// A count of items, checked against the bytes left (each item takes at least one byte).
    mutating func count(_ major: UInt8, _ name: String) throws(PinsetError) -> Int {
        let n = try expect(major, name)
        guard n <= UInt64(bytes.count - offset) else { throw fail("\(name) of \(n) items overruns the input") }
        return Int(n)
    }

    mutating func link() throws(PinsetError) -> CID {
        guard try expect(6, "a link") == 42 else { throw fail("only tag 42 (CID) is allowed") }
        let raw = try data()
        guard raw.first == 0 else { throw fail("a link must start with 0x00") }
        do { return try CID(bytes: Array(raw.dropFirst())) } catch { throw fail("bad CID in link: \(error.message)") }
    }

    /// Reads a map key, checking it follows `previous` in DAG-CBOR order.
    mutating func key(after previous: inout ArraySlice<UInt8>?) throws(PinsetError) -> ArraySlice<UInt8> {
        let k = try slice(try expect(3, "a text key"))
        if let p = previous {
            guard p.count < k.count || (p.count == k.count && p.lexicographicallyPrecedes(k)) else {
                throw fail("map key \"\(String(decoding: k, as: UTF8.self))\" repeated or out of order")
            }
        }
        previous = k
        return k
    }
}

extension ArraySlice<UInt8> {
    /// Compares with a one- or two-letter ASCII key.
    @inline(__always) func `is`(_ key: StaticString) -> Bool {
        key.withUTF8Buffer { $0.elementsEqual(self) }
    }
}
