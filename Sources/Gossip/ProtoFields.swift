import Multiformats

/// Writes protobuf fields (the subset pubsub frames use).
struct ProtoEncoder {
    var bytes: [UInt8] = []

    mutating func tag(_ field: UInt64, _ wire: UInt64) { Varint.encodeUnbounded(field << 3 | wire, into: &bytes) }

    mutating func varint(_ field: UInt64, _ value: UInt64) {
        tag(field, 0)
        Varint.encodeUnbounded(value, into: &bytes)
    }

    mutating func bytes(_ field: UInt64, _ value: some Collection<UInt8>) {
        tag(field, 2)
        Varint.encodeUnbounded(UInt64(value.count), into: &bytes)
        bytes.append(contentsOf: value)
    }

    mutating func string(_ field: UInt64, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: UInt64, _ body: (inout ProtoEncoder) -> Void) {
        var inner = ProtoEncoder()
        body(&inner)
        bytes(field, inner.bytes)
    }
}

/// Iterates the fields of one protobuf message, skipping unknown ones, with every length checked.
struct ProtoFields {
    enum Value {
        case varint(UInt64)
        case bytes(Range<Int>)
        case fixed
    }

    let bytes: [UInt8]
    private var offset: Int
    private let end: Int
    let what: String

    init(_ bytes: [UInt8], _ range: Range<Int>, what: String) {
        self.bytes = bytes
        self.offset = range.lowerBound
        self.end = range.upperBound
        self.what = what
    }

    /// The next field, or nil at the end of the message.
    mutating func next() throws(GossipError) -> (field: UInt64, value: Value)? {
        guard offset < end else { return nil }
        let key = try readVarint()
        let field = key >> 3
        guard field > 0 else { throw GossipError(.malformed, "\(what): field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try readVarint()))
        case 1: try skip(8); return (field, .fixed)
        case 5: try skip(4); return (field, .fixed)
        case 2:
            let length = try readVarint()
            guard length <= UInt64(end - offset) else {
                throw GossipError(.truncated, "\(what): field \(field) of \(length) bytes overruns the \(end - offset) left")
            }
            let start = offset
            offset += Int(length)
            return (field, .bytes(start..<offset))
        default:
            throw GossipError(.malformed, "\(what): unsupported wire type \(key & 7) in field \(field)")
        }
    }

    private mutating func skip(_ n: Int) throws(GossipError) {
        guard end - offset >= n else { throw GossipError(.truncated, "\(what): fixed-size field truncated") }
        offset += n
    }

    private mutating func readVarint() throws(GossipError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for n in 1...10 {
            guard offset < end else { throw GossipError(.truncated, "\(what): varint truncated") }
            let b = bytes[offset]
            offset += 1
            if n == 10 && b > 1 { throw GossipError(.malformed, "\(what): varint overflows 64 bits") }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
        throw GossipError(.malformed, "\(what): varint longer than 10 bytes")
    }

    // MARK: typed accessors

    func bytes(_ value: Value, field: String, limit: Int) throws(GossipError) -> [UInt8] {
        guard case .bytes(let r) = value else { throw GossipError(.malformed, "\(what): \(field) must be length-delimited") }
        guard r.count <= limit else { throw GossipError(.tooLarge, "\(what): \(field) of \(r.count) bytes exceeds \(limit)") }
        return Array(bytes[r])
    }

    func range(_ value: Value, field: String) throws(GossipError) -> Range<Int> {
        guard case .bytes(let r) = value else { throw GossipError(.malformed, "\(what): \(field) must be length-delimited") }
        return r
    }

    func string(_ value: Value, field: String, limit: Int) throws(GossipError) -> String {
        let raw = try bytes(value, field: field, limit: limit)
        guard let s = String(validating: raw, as: UTF8.self) else { throw GossipError(.malformed, "\(what): \(field) is not UTF-8") }
        return s
    }

    func uint(_ value: Value, field: String) throws(GossipError) -> UInt64 {
        guard case .varint(let v) = value else { throw GossipError(.malformed, "\(what): \(field) must be a varint") }
        return v
    }
}
