/// A yamux 1.0.0 frame header (hashicorp/yamux spec.md): 12 bytes, big-endian,
/// `version(1) = 0 | type(1) | flags(2) | stream ID(4) | length(4)`.
///
/// - `length` is the payload size for data frames, the window delta for window updates, the
///   opaque value for pings and the error code for go-away; only data frames have a payload.
/// - Version other than 0 and unknown types are refused.
public struct YamuxHeader: Sendable, Equatable {
    public static let size = 12

    public enum FrameType: UInt8, Sendable {
        case data = 0
        case windowUpdate = 1
        case ping = 2
        case goAway = 3
    }

    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let syn = Flags(rawValue: 1)
        public static let ack = Flags(rawValue: 2)
        public static let fin = Flags(rawValue: 4)
        public static let rst = Flags(rawValue: 8)
    }

    /// Go-away error codes.
    public enum GoAwayCode: UInt32, Sendable {
        case normal = 0
        case protocolError = 1
        case internalError = 2
    }

    public var type: FrameType
    public var flags: Flags
    public var streamID: UInt32
    public var length: UInt32

    public init(type: FrameType, flags: Flags = [], streamID: UInt32, length: UInt32) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.length = length
    }

    /// Appends the 12 header bytes to `out`.
    public func encode(into out: inout [UInt8]) {
        out.append(0)
        out.append(type.rawValue)
        out.append(UInt8(flags.rawValue >> 8))
        out.append(UInt8(flags.rawValue & 0xff))
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((streamID >> UInt32(shift)) & 0xff)) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((length >> UInt32(shift)) & 0xff)) }
    }

    /// Decodes the header at `offset` (which must have 12 bytes).
    public static func decode(_ bytes: [UInt8], at offset: Int) throws(Libp2pProtocolError) -> YamuxHeader {
        precondition(bytes.count - offset >= size, "a yamux header is 12 bytes")
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(Libp2pProtocolError) in try decode(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + size)])) }
        }
        return try result.get()
    }

    /// Decodes the header in the first 12 bytes of `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(Libp2pProtocolError) -> YamuxHeader {
        precondition(bytes.count >= size, "a yamux header is 12 bytes")
        guard bytes[0] == 0 else {
            throw Libp2pProtocolError(.protocolViolation, "yamux frame of version \(bytes[0]); only version 0 exists")
        }
        guard let type = FrameType(rawValue: bytes[1]) else {
            throw Libp2pProtocolError(.protocolViolation, "yamux frame of unknown type \(bytes[1])")
        }
        func u32(_ at: Int) -> UInt32 {
            (UInt32(bytes[at]) << 24) | (UInt32(bytes[at + 1]) << 16) | (UInt32(bytes[at + 2]) << 8) | UInt32(bytes[at + 3])
        }
        let flags = Flags(rawValue: UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
        return YamuxHeader(type: type, flags: flags, streamID: u32(4), length: u32(8))
    }

    /// The 12 header bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(YamuxHeader.size)
        encode(into: &out)
        return out
    }
}
