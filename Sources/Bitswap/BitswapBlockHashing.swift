public import Multiformats

// Hashing received blocks. Kept apart from the codec so that the codec builds without
// swift-crypto (the fuzz build compiles the codec alone).

/// A block as it arrived, with the CID its bytes hash to under the sender's prefix.
public struct BitswapReceivedBlock: Sendable, Equatable {
    public let cid: CID
    public let data: [UInt8]
}

/// Why a received block was not taken.
public enum BitswapBlockRejection: Sendable, Equatable, CustomStringConvertible {
    /// The prefix names a hash function PinMesh cannot compute, or a length it does not produce.
    case unverifiable(BitswapCIDPrefix)
    /// The bytes hash to a CID nobody here wants (also what a wrong hash looks like).
    case unwanted(CID)
    /// Over ``BitswapMessage/maxBlockBytes``.
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .unverifiable(let p): "a block hashed with \(p.hashCode) of \(p.hashLength) bytes, which cannot be verified here"
        case .unwanted(let cid): "a block hashing to \(cid), which was not wanted"
        case .tooLarge(let n): "a block of \(n) bytes, over the \(BitswapMessage.maxBlockBytes) limit"
        }
    }
}

extension BitswapMessage {
    /// Every block of the message hashed, raw 1.0.0 blocks first (as CIDv0), then payload
    /// blocks under their prefix. A block that cannot be hashed comes back as a rejection.
    public func hashedBlocks() -> [BitswapHashedBlock] {
        blocks.map { BitswapMessage.hash($0, prefix: .v0) } + payload.map { BitswapMessage.hash($0.data, prefix: $0.prefix) }
    }

    static func hash(_ data: [UInt8], prefix: BitswapCIDPrefix) -> BitswapHashedBlock {
        guard data.count <= maxBlockBytes else { return .rejected(.tooLarge(data.count)) }
        guard let digest = Multihash.digest(data, code: prefix.hashCode), let cid = prefix.cid(for: digest) else {
            return .rejected(.unverifiable(prefix))
        }
        return .block(BitswapReceivedBlock(cid: cid, data: data))
    }
}

/// A received block after hashing: its CID, or why it cannot be taken.
public enum BitswapHashedBlock: Sendable, Equatable {
    case block(BitswapReceivedBlock)
    case rejected(BitswapBlockRejection)

    /// The CID the block hashed to; nil when it was rejected.
    public var cid: CID? {
        if case .block(let b) = self { b.cid } else { nil }
    }
}
