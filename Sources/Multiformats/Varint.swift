/// Unsigned LEB128 varints as multiformats use them: minimal, at most 9 bytes (63 bits).
public enum Varint {
    /// The largest value a multiformats varint may carry (2^63 - 1).
    public static let maxValue: UInt64 = (1 << 63) - 1
    public static let maxBytes = 9

    /// Appends the encoding of `value` (which must be at most ``maxValue``).
    public static func encode(_ value: UInt64, into out: inout [UInt8]) {
        precondition(value <= maxValue, "varint value \(value) exceeds 2^63-1")
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// The encoding of `value`.
    /// Protobuf varints: like multiformats varints but allowed the full 64 bits.
    @inlinable
    public static func encodeUnbounded(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    public static func encode(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength(value))
        encode(value, into: &out)
        return out
    }

    /// How many bytes `value` encodes to.
    public static func encodedLength(_ value: UInt64) -> Int {
        var n = 1
        var v = value >> 7
        while v != 0 { n += 1; v >>= 7 }
        return n
    }

    /// Decodes the single varint that fills `bytes` exactly.
    public static func decode(_ bytes: [UInt8]) throws(MultiformatsError) -> UInt64 {
        var reader = ByteReader(bytes)
        let v = try reader.readVarint()
        try reader.expectEnd("varint")
        return v
    }
}

/// A cursor over bytes for the binary decoders of this module. Every read is bounds-checked.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: Int { bytes.count - offset }

    /// Reads one minimal varint of at most 9 bytes.
    public mutating func readVarint() throws(MultiformatsError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = 0
        while true {
            guard offset < bytes.count else {
                throw MFError(.truncated, "varint truncated after \(i) byte(s)")
            }
            let b = bytes[offset]
            offset += 1
            i += 1
            if i == Varint.maxBytes && b & 0x80 != 0 {
                throw MFError(.varintOverflow, "varint longer than \(Varint.maxBytes) bytes")
            }
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 {
                if b == 0 && i > 1 {
                    throw MFError(.varintNotMinimal, "varint has a redundant trailing zero byte (not minimally encoded)")
                }
                return value
            }
            shift += 7
        }
    }

    /// Reads a varint and checks it fits an `Int` length of at most `limit`.
    public mutating func readLength(limit: Int, what: String) throws(MultiformatsError) -> Int {
        let v = try readVarint()
        guard v <= UInt64(limit) else {
            throw MFError(.tooLong, "\(what) length \(v) exceeds the limit of \(limit) bytes")
        }
        return Int(v)
    }

    /// Reads exactly `count` bytes.
    public mutating func readBytes(_ count: Int, what: String) throws(MultiformatsError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw MFError(.truncated, "\(what) needs \(count) bytes, only \(remaining) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Throws `trailingBytes` unless every byte was consumed.
    public func expectEnd(_ what: String) throws(MultiformatsError) {
        guard isAtEnd else {
            throw MFError(.trailingBytes, "\(remaining) unexpected byte(s) after \(what)")
        }
    }
}
