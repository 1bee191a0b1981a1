/// A content identifier, version 0 or 1.
///
/// CIDv0 is a bare sha2-256 multihash of a dag-pb block, printed in base58btc (`Qm…`). CIDv1 is
/// `varint(1) varint(codec) multihash`, printed with a multibase prefix (base32 by default).
public struct CID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Version: Int, Sendable, Comparable {
        case v0 = 0
        case v1 = 1
        public static func < (a: Version, b: Version) -> Bool { a.rawValue < b.rawValue }
    }

    /// The longest CID text accepted (CIDs of the longest digests stay well below this).
    public static let maxTextLength = 512

    public let version: Version
    public let codec: Multicodec
    public let multihash: Multihash

    /// A CIDv0: the multihash must be sha2-256 with a 32-byte digest; the codec is dag-pb.
    public static func v0(_ multihash: Multihash) throws(MultiformatsError) -> CID {
        guard multihash.code == .sha2_256, multihash.digest.count == 32 else {
            throw MFError(.invalidCID, "CIDv0 needs a sha2-256 multihash, got \(multihash.code)")
        }
        return CID(version: .v0, codec: .dagPB, multihash: multihash)
    }

    /// A CIDv1 of `codec` content.
    public static func v1(codec: Multicodec, _ multihash: Multihash) -> CID {
        CID(version: .v1, codec: codec, multihash: multihash)
    }

    private init(version: Version, codec: Multicodec, multihash: Multihash) {
        self.version = version
        self.codec = codec
        self.multihash = multihash
    }

    /// The binary form.
    public var bytes: [UInt8] {
        switch version {
        case .v0:
            return multihash.bytes
        case .v1:
            var out: [UInt8] = [1]
            Varint.encode(codec.rawValue, into: &out)
            out.append(contentsOf: multihash.bytes)
            return out
        }
    }

    /// Parses a binary CID that fills `bytes` exactly.
    public init(bytes: [UInt8]) throws(MultiformatsError) {
        var reader = ByteReader(bytes)
        self = try CID.read(from: &reader)
        try reader.expectEnd("CID")
    }

    /// Reads one binary CID from `reader` (as dag-pb links and CAR sections embed them).
    public static func read(from reader: inout ByteReader) throws(MultiformatsError) -> CID {
        guard !reader.isAtEnd else { throw MFError(.truncated, "empty CID") }
        // A CIDv0 starts with sha2-256's code and length: 0x12 0x20.
        if reader.remaining >= 2 && reader.bytes[reader.offset] == 0x12 && reader.bytes[reader.offset + 1] == 0x20 {
            return try v0(Multihash.read(from: &reader))
        }
        let version = try reader.readVarint()
        switch version {
        case 1:
            let codec = Multicodec(rawValue: try reader.readVarint())
            return v1(codec: codec, try Multihash.read(from: &reader))
        case 0:
            throw MFError(.invalidCID, "CID version 0 must be a bare sha2-256 multihash, not a versioned CID")
        default:
            throw MFError(.invalidCID, "unsupported CID version \(version) (only 0 and 1 exist)")
        }
    }

    /// Parses CID text: a 46-character `Qm…` CIDv0, or a multibase-prefixed CIDv1.
    public init(_ text: String) throws(MultiformatsError) {
        guard !text.isEmpty else { throw MFError(.empty, "empty CID") }
        guard text.utf8.count <= CID.maxTextLength else {
            throw MFError(.tooLong, "CID text of \(text.utf8.count) bytes exceeds the limit of \(CID.maxTextLength)")
        }
        if text.utf8.count == 46 && text.hasPrefix("Qm") {
            let bytes = try Multibase.base58btc.decodeWithoutPrefix(Substring(text))
            self = try CID.v0(Multihash(bytes: bytes))
            return
        }
        let bytes: [UInt8]
        do throws(MultiformatsError) {
            bytes = try Multibase.decode(text).bytes
        } catch {
            throw MFError(error.code, "invalid CID \"\(CID.excerpt(text))\": \(error.message)")
        }
        do throws(MultiformatsError) {
            self = try CID(bytes: bytes)
        } catch {
            throw MFError(error.code, "invalid CID \"\(CID.excerpt(text))\": \(error.message)")
        }
    }

    static func excerpt(_ text: String) -> String {
        text.count <= 80 ? text : String(text.prefix(77)) + "..."
    }

    /// The text form in `base` (a CIDv0 has only its base58btc form and ignores `base`).
    public func string(base: Multibase = .base32) -> String {
        switch version {
        case .v0: multihash.base58
        case .v1: base.encode(bytes)
        }
    }

    /// CIDv0 as base58btc; CIDv1 as base32 (`bafy…`, `bafk…`), as kubo prints them.
    public var description: String { string() }

    /// The same content as CIDv1.
    public var v1: CID { CID(version: .v1, codec: codec, multihash: multihash) }

    /// The same content as CIDv0; fails unless the codec is dag-pb and the hash sha2-256.
    public func toV0() throws(MultiformatsError) -> CID {
        guard codec == .dagPB else {
            throw MFError(.invalidCID, "only dag-pb CIDs have a CIDv0 form, this is \(codec)")
        }
        return try CID.v0(multihash)
    }

    /// Orders by binary form, which is stable across processes.
    public static func < (a: CID, b: CID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

extension CID: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try CID(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
