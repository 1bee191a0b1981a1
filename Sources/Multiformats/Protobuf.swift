/// Writes protobuf fields in the order the caller writes them (libp2p, bitswap and DHT messages).
public struct ProtobufWriter: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func tag(_ field: UInt64, _ wire: UInt64) { Varint.encodeUnbounded(field << 3 | wire, into: &bytes) }

    public mutating func varint(_ field: UInt64, _ value: UInt64) {
        tag(field, 0)
        Varint.encodeUnbounded(value, into: &bytes)
    }

    public mutating func bool(_ field: UInt64, _ value: Bool) { varint(field, value ? 1 : 0) }

    public mutating func bytes(_ field: UInt64, _ value: some Collection<UInt8>) {
        tag(field, 2)
        Varint.encodeUnbounded(UInt64(value.count), into: &bytes)
        bytes.append(contentsOf: value)
    }

    public mutating func string(_ field: UInt64, _ value: String) { bytes(field, Array(value.utf8)) }

    public mutating func message(_ field: UInt64, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        bytes(field, inner.bytes)
    }
}

/// Iterates the fields of one protobuf message, skipping unknown ones, with every length checked
/// against the message's end. `what` names the message in errors ("identify message").
public struct ProtobufReader: Sendable {
    public enum Value: Sendable, Equatable {
        case varint(UInt64)
        case bytes(Range<Int>)
        case fixed
    }

    public let bytes: [UInt8]
    private var offset: Int
    private let end: Int
    public let what: String

    public init(_ bytes: [UInt8], range: Range<Int>? = nil, what: String) {
        self.bytes = bytes
        self.offset = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
        self.what = what
    }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws(MultiformatsError) -> (field: UInt64, value: Value)? {
        guard offset < end else { return nil }
        let key = try readVarint()
        let field = key >> 3
        guard field > 0 else { throw MultiformatsError(.nonCanonical, "\(what): field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try readVarint()))
        case 1: try skip(8); return (field, .fixed)
        case 5: try skip(4); return (field, .fixed)
        case 2:
            let length = try readVarint()
            guard length <= UInt64(end - offset) else {
                throw MultiformatsError(.truncated, "\(what): field \(field) of \(length) bytes overruns the \(end - offset) left")
            }
            let start = offset
            offset += Int(length)
            return (field, .bytes(start..<offset))
        default:
            throw MultiformatsError(.nonCanonical, "\(what): unsupported wire type \(key & 7) in field \(field)")
        }
    }

    private mutating func skip(_ n: Int) throws(MultiformatsError) {
        guard end - offset >= n else { throw MultiformatsError(.truncated, "\(what): fixed-size field truncated") }
        offset += n
    }

    private mutating func readVarint() throws(MultiformatsError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for n in 1...10 {
            guard offset < end else { throw MultiformatsError(.truncated, "\(what): varint truncated") }
            let b = bytes[offset]
            offset += 1
            if n == 10 && b > 1 { throw MultiformatsError(.varintOverflow, "\(what): varint overflows 64 bits") }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
        throw MultiformatsError(.varintOverflow, "\(what): varint longer than 10 bytes")
    }

    // MARK: typed accessors

    public func bytes(_ value: Value, field: String, limit: Int) throws(MultiformatsError) -> [UInt8] {
        guard case .bytes(let r) = value else { throw MultiformatsError(.nonCanonical, "\(what): \(field) must be length-delimited") }
        guard r.count <= limit else { throw MultiformatsError(.tooLong, "\(what): \(field) of \(r.count) bytes exceeds \(limit)") }
        return Array(bytes[r])
    }

    public func range(_ value: Value, field: String) throws(MultiformatsError) -> Range<Int> {
        guard case .bytes(let r) = value else { throw MultiformatsError(.nonCanonical, "\(what): \(field) must be length-delimited") }
        return r
    }

    public func string(_ value: Value, field: String, limit: Int) throws(MultiformatsError) -> String {
        let raw = try bytes(value, field: field, limit: limit)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw MultiformatsError(.invalidCharacter, "\(what): \(field) is not UTF-8")
        }
        return s
    }

    public func uint(_ value: Value, field: String) throws(MultiformatsError) -> UInt64 {
        guard case .varint(let v) = value else { throw MultiformatsError(.nonCanonical, "\(what): \(field) must be a varint") }
        return v
    }

    public func bool(_ value: Value, field: String) throws(MultiformatsError) -> Bool { try uint(value, field: field) != 0 }
}
