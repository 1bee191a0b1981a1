import Multiformats

/// Protobuf wire types used by dag-pb and UnixFS.
enum WireType: UInt64 {
    case varint = 0
    case lengthDelimited = 2
}

/// Appends protobuf fields in the order the caller writes them (dag-pb and UnixFS fix the order).
struct ProtoWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        Varint.encodeUnbounded(field << 3 | WireType.varint.rawValue, into: &bytes)
        Varint.encodeUnbounded(value, into: &bytes)
    }

    mutating func bytesField(_ field: UInt64, _ value: some Collection<UInt8>) {
        Varint.encodeUnbounded(field << 3 | WireType.lengthDelimited.rawValue, into: &bytes)
        Varint.encodeUnbounded(UInt64(value.count), into: &bytes)
        bytes.append(contentsOf: value)
    }

    /// The encoded size of a length-delimited field carrying `count` bytes.
    static func bytesFieldSize(_ field: UInt64, count: Int) -> Int {
        Varint.encodedLength(field << 3 | 2) + Varint.encodedLength(UInt64(count)) + count
    }

    static func varintFieldSize(_ field: UInt64, _ value: UInt64) -> Int {
        Varint.encodedLength(field << 3) + Varint.encodedLength(value)
    }
}

/// Reads protobuf fields with bounds checks; protobuf varints may use all 64 bits (10 bytes).
struct ProtoReader {
    let bytes: [UInt8]
    let end: Int
    private(set) var offset: Int
    let what: String

    init(_ bytes: [UInt8], range: Range<Int>? = nil, what: String) {
        self.bytes = bytes
        self.offset = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
        self.what = what
    }

    var isAtEnd: Bool { offset >= end }

    mutating func skip(_ n: Int) { offset += n }

    /// Peeks at the next field's number and wire type without consuming it.
    func peekTag() throws(UnixFSError) -> (field: UInt64, wire: UInt64) {
        var copy = self
        return try copy.readTag()
    }

    mutating func readTag() throws(UnixFSError) -> (field: UInt64, wire: UInt64) {
        let key = try readVarint()
        return (key >> 3, key & 7)
    }

    mutating func readVarint() throws(UnixFSError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var n = 0
        while true {
            guard offset < end else { throw UnixFSError(.truncated, "\(what): varint truncated") }
            let b = bytes[offset]
            offset += 1
            n += 1
            if n == 10 && b > 1 { throw UnixFSError(.invalidValue, "\(what): varint overflows 64 bits") }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 {
                if b == 0 && n > 1 { throw UnixFSError(.nonCanonical, "\(what): varint not minimally encoded") }
                return value
            }
            shift += 7
            if n == 10 { throw UnixFSError(.invalidValue, "\(what): varint longer than 10 bytes") }
        }
    }

    /// Reads a length prefix and returns the range of the bytes it covers.
    mutating func readLengthDelimited() throws(UnixFSError) -> Range<Int> {
        let length = try readVarint()
        guard length <= UInt64(end - offset) else {
            throw UnixFSError(.truncated, "\(what): field of \(length) bytes overruns the \(end - offset) left")
        }
        let start = offset
        offset += Int(length)
        return start..<offset
    }

    mutating func expect(field: UInt64, wire: WireType, name: String) throws(UnixFSError) {
        let tag = try readTag()
        guard tag.field == field, tag.wire == wire.rawValue else {
            throw UnixFSError(.nonCanonical, "\(what): expected field \(name) (\(field)), found field \(tag.field) wire type \(tag.wire)")
        }
    }
}
