/// The bitswap protocol versions PinMesh speaks, and what each carries on the wire.
///
/// - 1.2.0: want-have, DONT_HAVE, block presences and pendingBytes; blocks as `payload`.
/// - 1.1.0: blocks as `payload` (CID prefix + data), so CIDv1 blocks travel.
/// - 1.0.0 and the unversioned `/ipfs/bitswap`: blocks as raw bytes in `blocks`; the receiver
///   takes them as CIDv0 (sha2-256, dag-pb), so only such blocks can be sent.
///   (The unversioned ID is what go-bitswap calls `ProtocolBitswapNoVers`; it speaks 1.0.0's format.)
public enum BitswapProtocolVersion: String, Sendable, CaseIterable, Comparable {
    case v1_2_0 = "/ipfs/bitswap/1.2.0"
    case v1_1_0 = "/ipfs/bitswap/1.1.0"
    case v1_0_0 = "/ipfs/bitswap/1.0.0"
    case unversioned = "/ipfs/bitswap"

    /// Every protocol ID, most capable first (the order to offer in multistream-select).
    public static let protocolIDs: [String] = allCases.map(\.rawValue)

    /// The version of a negotiated protocol ID, or nil when it is not bitswap.
    public init?(protocolID: String) { self.init(rawValue: protocolID) }

    /// Whether the peer understands want-have, DONT_HAVE and block presences.
    public var supportsHave: Bool { self == .v1_2_0 }

    /// Whether blocks travel as `payload` (prefix + data) rather than raw CIDv0 `blocks`.
    public var usesPayload: Bool { self == .v1_2_0 || self == .v1_1_0 }

    private var rank: Int {
        switch self {
        case .unversioned: 0
        case .v1_0_0: 1
        case .v1_1_0: 2
        case .v1_2_0: 3
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}
