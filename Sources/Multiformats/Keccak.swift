/// Keccak-f[1600] sponge (FIPS 202): SHA3-224/256/384/512, SHAKE-256 and the original Keccak
/// padding kubo's `keccak-*` multihashes use. Incremental; pure Swift (no library has SHA-3
/// here). Known answers from FIPS 202 and Python's hashlib are in Tests/MultiformatsTests.
public struct Keccak: Sendable {
    private var state = [UInt64](repeating: 0, count: 25)
    private var buffer = [UInt8]()
    /// Bytes absorbed per permutation: 200 − 2 × the security level in bytes.
    public let rate: Int
    /// The padding's domain byte: 0x06 for SHA-3, 0x1F for SHAKE, 0x01 for Keccak.
    public let domain: UInt8
    public let outputBytes: Int

    public init(rate: Int, domain: UInt8, outputBytes: Int) {
        precondition(rate > 0 && rate < 200 && rate % 8 == 0 && outputBytes > 0)
        self.rate = rate
        self.domain = domain
        self.outputBytes = outputBytes
        buffer.reserveCapacity(rate)
    }

    /// SHA3-`bits` (224, 256, 384 or 512).
    public static func sha3(bits: Int) -> Keccak { Keccak(rate: 200 - bits / 4, domain: 0x06, outputBytes: bits / 8) }
    /// Keccak-`bits` with the original padding (Ethereum's keccak-256).
    public static func keccak(bits: Int) -> Keccak { Keccak(rate: 200 - bits / 4, domain: 0x01, outputBytes: bits / 8) }
    /// SHAKE-256 with `outputBytes` of output (the multihash `shake-256` takes 64).
    public static func shake256(outputBytes: Int) -> Keccak { Keccak(rate: 136, domain: 0x1F, outputBytes: outputBytes) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        if !buffer.isEmpty {
            let take = min(rate - buffer.count, bytes.count)
            buffer.append(contentsOf: bytes[0..<take])
            i = take
            if buffer.count == rate {
                buffer.withUnsafeBytes { absorb($0) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        while bytes.count - i >= rate {
            absorb(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + rate)]))
            i += rate
        }
        if i < bytes.count { buffer.append(contentsOf: bytes[i...]) }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public func finalize() -> [UInt8] {
        var copy = self
        var last = copy.buffer
        last.append(copy.domain)
        while last.count < rate { last.append(0) }
        last[rate - 1] |= 0x80
        last.withUnsafeBytes { copy.absorb($0) }
        var out = [UInt8]()
        out.reserveCapacity(outputBytes)
        while true {
            for lane in 0..<(rate / 8) {
                var v = copy.state[lane]
                for _ in 0..<8 {
                    out.append(UInt8(truncatingIfNeeded: v))
                    if out.count == outputBytes { return out }
                    v >>= 8
                }
            }
            Keccak.permute(&copy.state)
        }
    }

    /// One-shot digest.
    public static func hash(_ data: [UInt8], _ k: Keccak) -> [UInt8] {
        var k = k
        k.update(data)
        return k.finalize()
    }

    private mutating func absorb(_ block: UnsafeRawBufferPointer) {
        for lane in 0..<(rate / 8) {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(block[lane * 8 + b]) << (8 * b) }
            state[lane] ^= v
        }
        Keccak.permute(&state)
    }

    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]
    /// Rotation offsets and the π step's lane order, as in the reference "keccak-tiny" layout.
    private static let rotations: [UInt64] = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44]
    private static let piLanes: [Int] = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1]

    static func permute(_ a: inout [UInt64]) {
        var c = [UInt64](repeating: 0, count: 5)
        for round in 0..<24 {
            // θ
            for x in 0..<5 { c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] }
            for x in 0..<5 {
                let d = c[(x + 4) % 5] ^ (c[(x + 1) % 5] << 1 | c[(x + 1) % 5] >> 63)
                for y in stride(from: 0, to: 25, by: 5) { a[y + x] ^= d }
            }
            // ρ and π
            var current = a[1]
            for i in 0..<24 {
                let j = piLanes[i]
                let saved = a[j]
                let r = rotations[i]
                a[j] = current << r | current >> (64 - r)
                current = saved
            }
            // χ
            for y in stride(from: 0, to: 25, by: 5) {
                for x in 0..<5 { c[x] = a[y + x] }
                for x in 0..<5 { a[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]) }
            }
            // ι
            a[0] ^= roundConstants[round]
        }
    }
}
