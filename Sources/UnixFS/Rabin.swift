/// kubo's rabin splitter (boxo over whyrusleeping/chunker, a fork of restic's chunker): a Rabin
/// fingerprint over a 16-byte sliding window with the irreducible polynomial 0x3DF305DFB2A805
/// (degree 53). A chunk ends where `digest & mask == 0` once it has `min` bytes, or at `max`
/// bytes; `mask` is 2^floor(log2(avg)) - 1. The first `min - window` bytes of each chunk are not
/// fingerprinted, and each chunk starts from the state left by sliding in the byte 1.
struct RabinState: Sendable {
    /// kubo's polynomial (boxo's IpfsRabinPoly).
    static let kuboPolynomial: UInt64 = 17_437_180_132_763_653
    static let kuboWindow = 16

    struct Tables: Sendable {
        var out = [UInt64](repeating: 0, count: 256)
        var mod = [UInt64](repeating: 0, count: 256)
    }

    let window: Int
    let min: Int
    let max: Int
    let mask: UInt64
    private let tables: Tables
    private let polShift: UInt64

    private var ring: [UInt8]
    private var wpos = 0
    private var digest: UInt64 = 0
    /// Bytes of the current chunk seen so far.
    private(set) var count = 0
    private var pre = 0

    init(min: Int, max: Int, maskBits: Int, window: Int = kuboWindow, polynomial: UInt64 = kuboPolynomial) {
        self.window = window
        self.min = min
        self.max = max
        mask = (1 << UInt64(maskBits)) - 1
        tables = RabinState.tables(window: window, polynomial: polynomial)
        polShift = UInt64(RabinState.degree(polynomial) - 8)
        ring = [UInt8](repeating: 0, count: window)
        reset()
    }

    /// kubo's parameters: `maskBits` is floor(log2(avg)), as `uint(math.Log2(float64(avg)))`.
    init(min: Int, avg: Int, max: Int) {
        self.init(min: min, max: max, maskBits: Int.bitWidth - 1 - avg.leadingZeroBitCount)
    }

    private mutating func reset() {
        for i in ring.indices { ring[i] = 0 }
        wpos = 0
        digest = 0
        count = 0
        slide(1)
        pre = Swift.max(min - window, 0)
    }

    @inline(__always)
    private mutating func slide(_ b: UInt8) {
        let out = ring[wpos]
        ring[wpos] = b
        digest ^= tables.out[Int(out)]
        wpos += 1
        if wpos == window { wpos = 0 }
        let index = Int(digest >> polShift)
        digest = (digest << 8 | UInt64(b)) ^ tables.mod[index]
    }

    /// Scans `bytes`, the continuation of the current chunk. Returns how many of them complete
    /// the chunk (the state is then reset for the next one), or nil when all were consumed.
    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        if pre > 0 {
            let skip = Swift.min(pre, bytes.count)
            pre -= skip
            count += skip
            i = skip
        }
        while i < bytes.count {
            slide(bytes[i])
            count += 1
            i += 1
            if count >= min && (digest & mask == 0 || count >= max) {
                reset()
                return i
            }
        }
        return nil
    }

    // MARK: GF(2) polynomial arithmetic

    static func degree(_ p: UInt64) -> Int { p == 0 ? -1 : 63 - p.leadingZeroBitCount }

    static func mod(_ x: UInt64, _ d: UInt64) -> UInt64 {
        var x = x
        let dd = degree(d)
        while degree(x) >= dd { x ^= d << UInt64(degree(x) - dd) }
        return x
    }

    private static func tables(window: Int, polynomial pol: UInt64) -> Tables {
        var t = Tables()
        func append(_ hash: UInt64, _ b: UInt8) -> UInt64 { mod(hash << 8 | UInt64(b), pol) }
        for b in 0..<256 {
            // out[b] = fingerprint of b followed by window-1 zero bytes: XORing it removes b.
            var h = append(0, UInt8(b))
            for _ in 0..<(window - 1) { h = append(h, 0) }
            t.out[b] = h
        }
        // mod[b] = (b·x^k mod pol) | b·x^k: one XOR reduces the byte pushed above the degree.
        let k = UInt64(degree(pol))
        for b in 0..<256 {
            t.mod[b] = mod(UInt64(b) << k, pol) | UInt64(b) << k
        }
        return t
    }
}
