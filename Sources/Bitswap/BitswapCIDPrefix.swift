public import Multiformats

/// A CID prefix (bitswap 1.1.0 `payload.prefix`): everything of a CID but the digest.
///
/// Wire form: four minimal varints, version, codec, multihash code, digest length, filling
/// the field exactly. A version-0 prefix must be dag-pb, sha2-256, 32 bytes (CIDv0's only form).
/// The digest length is at most ``Multihash/maxDigestBytes``; whether it fits the hash
/// function is checked when the block is hashed, so one odd block does not void a message.
public struct BitswapCIDPrefix: Sendable, Hashable {
    public var version: CID.Version
    public var codec: Multicodec
    public var hashCode: Multicodec
    public var hashLength: Int

    public init(version: CID.Version, codec: Multicodec, hashCode: Multicodec, hashLength: Int) {
        self.version = version
        self.codec = codec
        self.hashCode = hashCode
        self.hashLength = hashLength
    }

    /// The prefix of `cid`.
    public init(of cid: CID) {
        self.init(version: cid.version, codec: cid.codec, hashCode: cid.multihash.code, hashLength: cid.multihash.digest.count)
    }

    /// The prefix of a CIDv0.
    public static let v0 = BitswapCIDPrefix(version: .v0, codec: .dagPB, hashCode: .sha2_256, hashLength: 32)

    /// The wire form.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        Varint.encode(UInt64(version.rawValue), into: &out)
        Varint.encode(codec.rawValue, into: &out)
        Varint.encode(hashCode.rawValue, into: &out)
        Varint.encode(UInt64(hashLength), into: &out)
        return out
    }

    /// Parses a prefix that fills `bytes` exactly.
    public init(bytes: [UInt8]) throws(BitswapError) {
        let fields: (version: UInt64, codec: UInt64, hashCode: UInt64, length: Int)
        do throws(MultiformatsError) {
            var reader = ByteReader(bytes)
            fields = (try reader.readVarint(), try reader.readVarint(), try reader.readVarint(),
                      try reader.readLength(limit: Multihash.maxDigestBytes, what: "CID prefix digest"))
            try reader.expectEnd("CID prefix")
        } catch {
            throw BitswapError(error.code == .tooLong ? .tooLarge : error.code == .truncated ? .truncated : .malformed,
                               "CID prefix: \(error.message)")
        }
        let codec = Multicodec(rawValue: fields.codec)
        let hashCode = Multicodec(rawValue: fields.hashCode)
        switch fields.version {
        case 0:
            guard codec == .dagPB, hashCode == .sha2_256, fields.length == 32 else {
                throw BitswapError(.malformed, "CID prefix: version 0 must be dag-pb sha2-256 of 32 bytes, got \(codec) \(hashCode) of \(fields.length)")
            }
            self.init(version: .v0, codec: codec, hashCode: hashCode, hashLength: 32)
        case 1:
            self.init(version: .v1, codec: codec, hashCode: hashCode, hashLength: fields.length)
        default:
            throw BitswapError(.malformed, "CID prefix: unsupported CID version \(fields.version) (only 0 and 1 exist)")
        }
    }

    /// The CID of a block with digest `multihash` under this prefix; nil when the multihash does
    /// not match the prefix's function and length.
    public func cid(for multihash: Multihash) -> CID? {
        guard multihash.code == hashCode, multihash.digest.count == hashLength else { return nil }
        switch version {
        case .v0: return try? CID.v0(multihash)
        case .v1: return CID.v1(codec: codec, multihash)
        }
    }
}
