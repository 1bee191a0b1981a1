public import Multiformats

/// How data is cut into chunks; parsed from kubo's `--chunker` syntax.
public enum ChunkerSpec: Hashable, Sendable, CustomStringConvertible {
    /// `size-N`: fixed N-byte chunks (kubo's default is `size-262144`).
    case size(Int)
    /// `buzhash`: content-defined chunks of 128 KiB to 512 KiB (kubo's buzhash splitter).
    case buzhash
    /// `rabin[-avg]` or `rabin-min-avg-max`.
    case rabin(min: Int, avg: Int, max: Int)

    /// The largest chunk kubo 0.40 accepts (boxo's ChunkSizeLimit: the bitswap spec's 2 MiB
    /// block limit less 256 bytes for UnixFS framing).
    public static let maxChunkSize = 2 * 1024 * 1024 - 256
    public static let `default` = ChunkerSpec.size(262_144)
    /// The smallest `rabin-AVG` PinMesh's Rabin splitter takes: AVG/3, the minimum chunk, must
    /// cover the 16-byte window (kubo does not check; see Specs/unixfs.md).
    public static let minRabinAverage = 48

    /// Parses kubo 0.40's `--chunker` syntax, refusing what kubo refuses, in kubo's words.
    public init(parsing text: String) throws(UnixFSError) {
        func number(_ s: Substring, label: String?) throws(UnixFSError) -> Int {
            var s = s
            if let label {
                let parts = s.split(separator: ":", omittingEmptySubsequences: false)
                if parts.count > 1 {
                    guard parts[0] == label else {
                        let which = label == "min" ? "first" : label == "avg" ? "second" : "final"
                        throw UnixFSError(.unsupported, "chunker \"\(text)\": \(which) label must be \(label)")
                    }
                    s = parts[parts.count - 1]
                }
            }
            guard let n = Int(s) else {
                throw UnixFSError(.unsupported, "chunker \"\(text)\": \"\(s)\" is not a number")
            }
            return n
        }
        let tooLarge = UnixFSError(
            .unsupported, "chunker \"\(text)\": chunker parameters may not exceed the maximum chunk size of \(ChunkerSpec.maxChunkSize)")
        if text.isEmpty || text == "default" {
            self = .default
        } else if text.hasPrefix("size-") {
            let n = try number(text.dropFirst(5).split(separator: "-", omittingEmptySubsequences: false)[0], label: nil)
            guard n > 0 else { throw UnixFSError(.unsupported, "chunker \"\(text)\": chunker size must be greater than 0") }
            guard n <= ChunkerSpec.maxChunkSize else { throw tooLarge }
            self = .size(n)
        } else if text == "buzhash" {
            self = .buzhash
        } else if text.hasPrefix("rabin") {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            switch parts.count {
            case 1:
                self = ChunkerSpec.rabinAround(262_144)
            case 2:
                let avg = try number(parts[1], label: nil)
                guard Int(Float(avg) * 1.5) <= ChunkerSpec.maxChunkSize else { throw tooLarge }
                guard avg >= ChunkerSpec.minRabinAverage else {
                    throw UnixFSError(
                        .unsupported, "chunker \"\(text)\": rabin-AVG must be at least \(ChunkerSpec.minRabinAverage) (its minimum, AVG/3, must be at least 16)")
                }
                self = ChunkerSpec.rabinAround(avg)
            case 4:
                let min = try number(parts[1], label: "min")
                guard min >= 16 else { throw UnixFSError(.unsupported, "chunker \"\(text)\": rabin min must be greater than 16") }
                let avg = try number(parts[2], label: "avg"), max = try number(parts[3], label: "max")
                guard min < avg else { throw UnixFSError(.unsupported, "chunker \"\(text)\": incorrect format: rabin-min must be smaller than rabin-avg") }
                guard avg < max else { throw UnixFSError(.unsupported, "chunker \"\(text)\": incorrect format: rabin-avg must be smaller than rabin-max") }
                guard max <= ChunkerSpec.maxChunkSize else { throw tooLarge }
                self = .rabin(min: min, avg: avg, max: max)
            default:
                throw UnixFSError(.unsupported, "chunker \"\(text)\": incorrect format (expected 'rabin' 'rabin-[avg]' or 'rabin-[min]-[avg]-[max]')")
            }
        } else {
            throw UnixFSError(.unsupported, "unrecognized chunker option: \(text) (use size-N, rabin[-AVG | -MIN-AVG-MAX] or buzhash)")
        }
        try validate()
    }

    static func rabinAround(_ avg: Int) -> ChunkerSpec {
        .rabin(min: avg / 3, avg: avg, max: avg + avg / 2)
    }

    public func validate() throws(UnixFSError) {
        switch self {
        case .size(let n):
            guard n > 0, n <= ChunkerSpec.maxChunkSize else {
                throw UnixFSError(.unsupported, "chunk size \(n) must be 1 to \(ChunkerSpec.maxChunkSize) bytes")
            }
        case .buzhash: break
        case .rabin(let min, let avg, let max):
            guard min >= 16, min <= avg, avg <= max, max <= ChunkerSpec.maxChunkSize else {
                throw UnixFSError(.unsupported, "rabin sizes must satisfy 16 <= min <= avg <= max <= \(ChunkerSpec.maxChunkSize)")
            }
        }
    }

    /// The largest chunk this chunker produces.
    public var maxChunkLength: Int {
        switch self {
        case .size(let n): n
        case .buzhash: Buzhash.maxChunk
        case .rabin(_, _, let max): max
        }
    }

    public var description: String {
        switch self {
        case .size(let n): "size-\(n)"
        case .buzhash: "buzhash"
        case .rabin(let min, let avg, let max): "rabin-\(min)-\(avg)-\(max)"
        }
    }
}

/// How a file's chunks are arranged into a tree.
public enum Layout: String, Hashable, Sendable, CaseIterable {
    /// kubo's default: every leaf at the same depth, nodes of at most `maxLinks` children.
    case balanced
    /// Leaves first, then layers of deeper subtrees (good for streaming reads).
    case trickle
}

/// How HAMT directory size is estimated against the sharding threshold.
public enum HAMTSizeEstimation: String, Hashable, Sendable {
    /// Sum of link name and CID byte lengths (unixfs-v0-2015, kubo's default).
    case links
    /// The exact serialized dag-pb block size (unixfs-v1-2025).
    case block
}

/// Every option of an import, with kubo's defaults and its named profiles.
public struct ImportSettings: Hashable, Sendable {
    public var cidVersion: CID.Version
    /// Leaves as raw blocks instead of UnixFS nodes.
    public var rawLeaves: Bool
    public var chunker: ChunkerSpec
    public var layout: Layout
    public var hashFunction: Multicodec
    /// Maximum links in a file node (kubo: 174).
    public var maxLinks: Int
    /// A basic directory above this estimated size becomes a HAMT (kubo: 256 KiB).
    public var hamtShardingThreshold: Int
    public var hamtSizeEstimation: HAMTSizeEstimation
    /// Children per HAMT node (kubo: 256).
    public var hamtFanout: Int
    /// kubo's `--inline`: blocks of at most this many bytes get an identity CID (CIDv1, the
    /// block's codec) instead of a hash; nil: no inlining. At most
    /// ``KuboAddOptions/maxInlineLimit``.
    public var inlineLimit: Int? = nil

    /// kubo's defaults: CIDv0, dag-pb leaves, `size-262144`, balanced, 174 links.
    public init(
        cidVersion: CID.Version = .v0, rawLeaves: Bool? = nil, chunker: ChunkerSpec = .default,
        layout: Layout = .balanced, hashFunction: Multicodec = .sha2_256, maxLinks: Int = 174,
        hamtShardingThreshold: Int = 256 * 1024, hamtSizeEstimation: HAMTSizeEstimation = .links, hamtFanout: Int = 256
    ) {
        // kubo switches to CIDv1 for any hash other than sha2-256.
        let version: CID.Version = hashFunction == .sha2_256 ? cidVersion : .v1
        self.cidVersion = version
        self.rawLeaves = rawLeaves ?? (version == .v1)
        self.chunker = chunker
        self.layout = layout
        self.hashFunction = hashFunction
        self.maxLinks = maxLinks
        self.hamtShardingThreshold = hamtShardingThreshold
        self.hamtSizeEstimation = hamtSizeEstimation
        self.hamtFanout = hamtFanout
    }

    /// kubo's `unixfs-v0-2015` profile (its historical defaults).
    public static let unixfsV0_2015 = ImportSettings()

    /// kubo's `unixfs-v1-2025` profile: CIDv1, raw leaves, 1 MiB chunks, 1024 links per file
    /// node, HAMT fanout 256 with the 256 KiB threshold estimated on block size.
    public static let unixfsV1_2025 = ImportSettings(
        cidVersion: .v1, rawLeaves: true, chunker: .size(1_048_576), maxLinks: 1024,
        hamtSizeEstimation: .block)

    /// Looks a profile up by kubo's name.
    public init?(profile: String) {
        switch profile {
        case "unixfs-v0-2015", "legacy-cid-v0": self = .unixfsV0_2015
        case "unixfs-v1-2025", "test-cid-v1": self = .unixfsV1_2025
        default: return nil
        }
    }

    /// Checks the combination is one kubo would accept.
    public func validate() throws(UnixFSError) {
        try chunker.validate()
        guard Multihash.Hasher(code: hashFunction) != nil else {
            throw UnixFSError(.unsupported, "hash function \(hashFunction) is not supported: use one of \(Multihash.Hasher.supportedNames.joined(separator: ", "))")
        }
        if let inlineLimit, !(0...KuboAddOptions.maxInlineLimit).contains(inlineLimit) {
            throw UnixFSError(.unsupported, "inline-limit \(inlineLimit) exceeds maximum allowed size of \(KuboAddOptions.maxInlineLimit) bytes")
        }
        guard maxLinks >= 2 else { throw UnixFSError(.unsupported, "max links per node must be at least 2, got \(maxLinks)") }
        guard hamtFanout >= 8, hamtFanout <= 1024, hamtFanout & (hamtFanout - 1) == 0 else {
            throw UnixFSError(.unsupported, "HAMT fanout must be a power of two from 8 to 1024, got \(hamtFanout)")
        }
    }
}
