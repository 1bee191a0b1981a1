import Multiformats

/// The options of kubo's `ipfs add` as a user gives them (nil: not given), resolved into
/// ``ImportSettings`` exactly as kubo 0.40 does: the one place that rule lives, used by the
/// embedded node's `add`, the IPFS proxy's `add` and `pinmeshctl add --only-hash`.
///
/// kubo's rules (`core/commands/add.go`, `coreiface/options/unixfs.go`):
/// - a profile stands for kubo's `Import.*` configuration after `ipfs config profile apply`:
///   every value it sets counts as given, and a flag overrides it;
/// - a hash other than sha2-256 needs CIDv1: with no CID version given it selects CIDv1, with
///   `--cid-version=0` it is refused ("CIDv0 only supports sha2-256");
/// - CIDv1 brings raw leaves unless raw leaves were given (by a flag or the profile);
/// - `--inline` gives blocks of at most `--inline-limit` bytes (default 32, at most 128) an
///   identity CID.
public struct KuboAddOptions: Sendable, Hashable {
    public var profile: String?
    public var cidVersion: Int?
    public var rawLeaves: Bool?
    public var hash: String?
    public var chunker: String?
    public var trickle: Bool?
    public var maxFileLinks: Int?
    public var maxHAMTFanout: Int?
    public var inline: Bool
    public var inlineLimit: Int?

    public init(
        profile: String? = nil, cidVersion: Int? = nil, rawLeaves: Bool? = nil, hash: String? = nil, chunker: String? = nil,
        trickle: Bool? = nil, maxFileLinks: Int? = nil, maxHAMTFanout: Int? = nil, inline: Bool = false, inlineLimit: Int? = nil
    ) {
        self.profile = profile
        self.cidVersion = cidVersion
        self.rawLeaves = rawLeaves
        self.hash = hash
        self.chunker = chunker
        self.trickle = trickle
        self.maxFileLinks = maxFileLinks
        self.maxHAMTFanout = maxHAMTFanout
        self.inline = inline
        self.inlineLimit = inlineLimit
    }

    /// The largest `--inline-limit` (boxo's verifcid.DefaultMaxIdentityDigestSize).
    public static let maxInlineLimit = 128
    public static let defaultInlineLimit = 32

    /// The settings kubo would import with; throws kubo's error for what kubo refuses.
    public func resolve() throws(UnixFSError) -> ImportSettings {
        // The values a profile sets, as kubo's `Import` configuration holds them after it.
        var profileValues: ImportSettings?
        if let profile {
            guard let p = ImportSettings(profile: profile) else {
                throw UnixFSError(.unsupported, "unknown import profile \(profile.debugDescription): use unixfs-v0-2015 or unixfs-v1-2025")
            }
            profileValues = p
        }
        let hashName = (hash ?? "sha2-256").lowercased()
        guard let function = Multicodec(name: hashName) else {
            throw UnixFSError(.unsupported, "unrecognized hash function: \(hashName.debugDescription)")
        }
        guard Multihash.Hasher(code: function) != nil else {
            throw UnixFSError(.unsupported, "hash function \(hashName) is not supported by PinMesh's importer: use one of \(Multihash.Hasher.supportedNames.joined(separator: ", "))")
        }
        let givenVersion = cidVersion ?? profileValues.map { $0.cidVersion == .v1 ? 1 : 0 }
        if let givenVersion, givenVersion != 0 && givenVersion != 1 {
            throw UnixFSError(.unsupported, "unknown CID version: \(givenVersion)")
        }
        let version: CID.Version
        if function != .sha2_256 {
            guard givenVersion != 0 else { throw UnixFSError(.unsupported, "CIDv0 only supports sha2-256") }
            version = .v1
        } else {
            version = givenVersion == 1 ? .v1 : .v0
        }
        let raw = rawLeaves ?? profileValues?.rawLeaves ?? (version == .v1)
        var chunking = profileValues?.chunker ?? .default
        if let chunker, !chunker.isEmpty { chunking = try ChunkerSpec(parsing: chunker) }
        var limit: Int?
        if inline {
            let l = inlineLimit ?? Self.defaultInlineLimit
            guard l <= Self.maxInlineLimit else {
                throw UnixFSError(.unsupported, "inline-limit \(l) exceeds maximum allowed size of \(Self.maxInlineLimit) bytes")
            }
            limit = max(l, 0)
        }
        var settings = ImportSettings(
            cidVersion: version, rawLeaves: raw, chunker: chunking, layout: trickle == true ? .trickle : .balanced,
            hashFunction: function, maxLinks: maxFileLinks ?? profileValues?.maxLinks ?? 174,
            hamtSizeEstimation: profileValues?.hamtSizeEstimation ?? .links, hamtFanout: maxHAMTFanout ?? 256)
        settings.inlineLimit = limit
        try settings.validate()
        return settings
    }
}
