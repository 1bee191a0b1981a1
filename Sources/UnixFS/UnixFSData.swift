import Multiformats
/// The UnixFS `Data` message carried in a dag-pb node's Data field.
///
/// Fields are written in field-number order, as Go's protobuf encoder writes them; `blocksizes`
/// is repeated and not packed.
public struct UnixFSData: Hashable, Sendable {
    public enum DataType: UInt64, Sendable {
        case raw = 0
        case directory = 1
        case file = 2
        case metadata = 3
        case symlink = 4
        case hamtShard = 5
    }

    public var type: DataType
    public var data: [UInt8]?
    public var fileSize: UInt64?
    public var blockSizes: [UInt64]
    public var hashType: UInt64?
    public var fanout: UInt64?
    /// Unix permission bits (field 7), when recorded.
    public var mode: UInt32?
    /// Modification time (field 8): seconds and optional nanoseconds.
    public var mtime: Mtime?

    public struct Mtime: Hashable, Sendable {
        public var seconds: Int64
        public var nanoseconds: UInt32?
        public init(seconds: Int64, nanoseconds: UInt32? = nil) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
    }

    public init(
        type: DataType, data: [UInt8]? = nil, fileSize: UInt64? = nil, blockSizes: [UInt64] = [],
        hashType: UInt64? = nil, fanout: UInt64? = nil, mode: UInt32? = nil, mtime: Mtime? = nil
    ) {
        self.type = type
        self.data = data
        self.fileSize = fileSize
        self.blockSizes = blockSizes
        self.hashType = hashType
        self.fanout = fanout
        self.mode = mode
        self.mtime = mtime
    }

    public func encoded() -> [UInt8] {
        var w = ProtoWriter(capacity: 16 + (data?.count ?? 0) + blockSizes.count * 4)
        w.varintField(1, type.rawValue)
        if let data { w.bytesField(2, data) }
        if let fileSize { w.varintField(3, fileSize) }
        for size in blockSizes { w.varintField(4, size) }
        if let hashType { w.varintField(5, hashType) }
        if let fanout { w.varintField(6, fanout) }
        if let mode { w.varintField(7, UInt64(mode)) }
        if let mtime {
            var m = ProtoWriter()
            m.varintField(1, UInt64(bitPattern: mtime.seconds))
            if let ns = mtime.nanoseconds {
                Varint.encodeUnbounded(2 << 3 | 5, into: &m.bytes)
                withUnsafeBytes(of: ns.littleEndian) { m.bytes.append(contentsOf: $0) }
            }
            w.bytesField(8, m.bytes)
        }
        return w.bytes
    }

    /// Decodes strictly: field-number order (blocksizes may repeat), known fields only.
    public init(decoding bytes: [UInt8]) throws(UnixFSError) {
        var r = ProtoReader(bytes, what: "UnixFS data")
        var type: DataType?
        var result = UnixFSData(type: .raw)
        var lastField: UInt64 = 0
        while !r.isAtEnd {
            let tag = try r.readTag()
            guard tag.field > lastField || (tag.field == 4 && lastField == 4) else {
                throw UnixFSError(.nonCanonical, "UnixFS data: field \(tag.field) out of order or repeated")
            }
            lastField = tag.field
            switch (tag.field, tag.wire) {
            case (1, 0):
                let raw = try r.readVarint()
                guard let t = DataType(rawValue: raw) else {
                    throw UnixFSError(.invalidValue, "UnixFS data: unknown type \(raw)")
                }
                type = t
            case (2, 2): result.data = Array(bytes[try r.readLengthDelimited()])
            case (3, 0): result.fileSize = try r.readVarint()
            case (4, 0): result.blockSizes.append(try r.readVarint())
            case (5, 0): result.hashType = try r.readVarint()
            case (6, 0): result.fanout = try r.readVarint()
            case (7, 0):
                let mode = try r.readVarint()
                guard mode <= UInt64(UInt32.max) else { throw UnixFSError(.invalidValue, "UnixFS data: mode \(mode) out of range") }
                result.mode = UInt32(mode)
            case (8, 2):
                let range = try r.readLengthDelimited()
                var m = ProtoReader(bytes, range: range, what: "UnixFS mtime")
                var mtime = Mtime(seconds: 0)
                var sawSeconds = false
                while !m.isAtEnd {
                    let t = try m.readTag()
                    switch (t.field, t.wire) {
                    case (1, 0) where !sawSeconds:
                        mtime.seconds = Int64(bitPattern: try m.readVarint())
                        sawSeconds = true
                    case (2, 5) where mtime.nanoseconds == nil:
                        let r4 = try m.readFixed32()
                        guard r4 >= 1 && r4 <= 999_999_999 else {
                            throw UnixFSError(.invalidValue, "UnixFS mtime: nanoseconds \(r4) out of range 1...999999999")
                        }
                        mtime.nanoseconds = r4
                    default:
                        throw UnixFSError(.nonCanonical, "UnixFS mtime: unexpected field \(t.field)")
                    }
                }
                guard sawSeconds else { throw UnixFSError(.missingField, "UnixFS mtime has no Seconds (required)") }
                result.mtime = mtime
            default:
                throw UnixFSError(.nonCanonical, "UnixFS data: unexpected field \(tag.field) wire type \(tag.wire)")
            }
        }
        guard let type else { throw UnixFSError(.missingField, "UnixFS data has no Type") }
        result.type = type
        self = result
    }
}

extension ProtoReader {
    mutating func readFixed32() throws(UnixFSError) -> UInt32 {
        let range = offset..<min(offset + 4, end)
        guard range.count == 4 else { throw UnixFSError(.truncated, "\(what): fixed32 truncated") }
        var v: UInt32 = 0
        for (i, b) in bytes[range].enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
        skip(4)
        return v
    }
}
