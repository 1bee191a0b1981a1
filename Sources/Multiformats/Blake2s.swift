/// BLAKE2s (RFC 7693), unkeyed, for the `blake2s-256` multihash kubo's `add --hash` accepts
/// (go-multihash registers blake2s at 256 bits only). Incremental; pure Swift, no
/// allocation per block. Checked against Python's hashlib (`Specs/vectors/hash-functions.json`).
public struct Blake2s: Sendable {
    static let iv: [UInt32] = [
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19,
    ]
    static let sigma: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ]

    public let outputBytes: Int
    private var h: [UInt32]
    /// Bytes compressed so far.
    private var counter: UInt64 = 0
    /// The block not compressed yet: the last block is compressed with the final flag, so a
    /// full block waits until more input shows it is not the last.
    private var buffer: [UInt8] = []

    /// A hasher of `outputBytes` (1 to 32) bytes.
    public init(outputBytes: Int = 32) {
        precondition((1...32).contains(outputBytes), "BLAKE2s output is 1 to 32 bytes")
        self.outputBytes = outputBytes
        h = Self.iv
        h[0] ^= 0x0101_0000 ^ UInt32(outputBytes)
        buffer.reserveCapacity(64)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count {
            if buffer.count == 64 {
                counter &+= 64
                compress(buffer, last: false)
                buffer.removeAll(keepingCapacity: true)
            }
            let n = min(64 - buffer.count, bytes.count - i)
            buffer.append(contentsOf: bytes[i..<i + n])
            i += n
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public func finalize() -> [UInt8] {
        var copy = self
        copy.counter &+= UInt64(copy.buffer.count)
        let block = copy.buffer + [UInt8](repeating: 0, count: 64 - copy.buffer.count)
        copy.compress(block, last: true)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in copy.h { for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: word >> (8 * k))) } }
        return Array(out.prefix(outputBytes))
    }

    public static func hash(_ data: [UInt8], outputBytes: Int = 32) -> [UInt8] {
        var b = Blake2s(outputBytes: outputBytes)
        b.update(data)
        return b.finalize()
    }

    private mutating func compress(_ block: [UInt8], last: Bool) {
        var m = [UInt32](repeating: 0, count: 16)
        for j in 0..<16 {
            m[j] = UInt32(block[4 * j]) | UInt32(block[4 * j + 1]) << 8 | UInt32(block[4 * j + 2]) << 16 | UInt32(block[4 * j + 3]) << 24
        }
        var v = h + Self.iv
        v[12] ^= UInt32(truncatingIfNeeded: counter)
        v[13] ^= UInt32(truncatingIfNeeded: counter >> 32)
        if last { v[14] = ~v[14] }
        func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt32, _ y: UInt32) {
            v[a] = v[a] &+ v[b] &+ x
            v[d] = (v[d] ^ v[a]).rotatedRight(16)
            v[c] = v[c] &+ v[d]
            v[b] = (v[b] ^ v[c]).rotatedRight(12)
            v[a] = v[a] &+ v[b] &+ y
            v[d] = (v[d] ^ v[a]).rotatedRight(8)
            v[c] = v[c] &+ v[d]
            v[b] = (v[b] ^ v[c]).rotatedRight(7)
        }
        for round in 0..<10 {
            let s = Self.sigma[round]
            g(0, 4, 8, 12, m[s[0]], m[s[1]])
            g(1, 5, 9, 13, m[s[2]], m[s[3]])
            g(2, 6, 10, 14, m[s[4]], m[s[5]])
            g(3, 7, 11, 15, m[s[6]], m[s[7]])
            g(0, 5, 10, 15, m[s[8]], m[s[9]])
            g(1, 6, 11, 12, m[s[10]], m[s[11]])
            g(2, 7, 8, 13, m[s[12]], m[s[13]])
            g(3, 4, 9, 14, m[s[14]], m[s[15]])
        }
        for j in 0..<8 { h[j] ^= v[j] ^ v[j + 8] }
    }
}

extension UInt32 {
    fileprivate func rotatedRight(_ n: UInt32) -> UInt32 { self >> n | self << (32 - n) }
}
