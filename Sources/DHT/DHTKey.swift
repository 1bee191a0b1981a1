public import Multiformats

/// A point of the DHT's key space: the SHA-256 of a key (a peer ID's bytes, or a multihash for
/// provider records), compared by XOR distance (go-libp2p-kad-dht's `kb.ConvertKey`).
public struct DHTKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Wraps 32 bytes that already are a point of the key space.
    public init(point: [UInt8]) {
        precondition(point.count == 32, "a DHT key space point is 32 bytes")
        bytes = point
    }

    /// The key of `raw` (SHA-256 of it).
    public init(hashing raw: [UInt8]) {
        bytes = Multihash.sha256(raw).digest
    }

    public init(peer: PeerID) { self.init(hashing: peer.bytes) }

    /// XOR distance to `other`, as a big-endian 256-bit number.
    public func distance(to other: DHTKey) -> [UInt8] {
        zip(bytes, other.bytes).map { $0 ^ $1 }
    }

    /// The number of leading bits shared with `other` (256 when equal).
    public func commonPrefixLength(with other: DHTKey) -> Int {
        for i in 0..<32 {
            let x = bytes[i] ^ other.bytes[i]
            if x != 0 { return i * 8 + x.leadingZeroBitCount }
        }
        return 256
    }

    /// Whether `a` is closer to this key than `b` (ties broken by the keys themselves).
    public func isCloser(_ a: DHTKey, than b: DHTKey) -> Bool {
        for i in 0..<32 {
            let da = a.bytes[i] ^ bytes[i], db = b.bytes[i] ^ bytes[i]
            if da != db { return da < db }
        }
        return a < b
    }

    public static func < (a: DHTKey, b: DHTKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public var description: String { bytes.prefix(6).map { String($0, radix: 16).leftPadded(2) }.joined() + "…" }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
