import ClusterTestKit
import LZ4
import Testing

@Suite struct LZ4Tests {
    @Test func knownBlocksDecode() throws {
        // A literal-only block: token 0x50 (5 literals, no match) then "hello".
        #expect(try LZ4.decompress([0x50] + Array("hello".utf8), originalSize: 5) == Array("hello".utf8))
        // One literal 'a', then a match at offset 1 of length 4+14=18, then 5 final literals.
        let block: [UInt8] = [0x1e, 0x61, 0x01, 0x00, 0x50] + Array("bbbbb".utf8)
        #expect(try LZ4.decompress(block, originalSize: 24) == Array(repeating: 0x61, count: 19) + Array(repeating: 0x62, count: 5))
        // The empty input compresses to a lone zero token.
        #expect(LZ4.compress([]) == [0])
        #expect(try LZ4.decompress([0], originalSize: 0) == [])
    }

    @Test func roundTripsAtManySizes() throws {
        var rng = SeededRandom(seed: 42)
        for size in [1, 2, 15, 16, 64, 1000, 65536, 300_000] {
            let random = rng.bytes(size)
            let text = (0..<size).map { UInt8(0x61 + ($0 / 7) % 5) }
            for input in [random, text] {
                let c = LZ4.compress(input)
                #expect(c.count <= LZ4.compressBound(size))
                #expect(try LZ4.decompress(c, originalSize: size) == input)
                #expect(try LZ4.decompress(c, maxSize: size) == input)
            }
            if size >= 1000 { #expect(LZ4.compress(text).count < size / 2) }
        }
    }

    @Test func boundsAreEnforced() throws {
        let input = [UInt8](repeating: 7, count: 10_000)
        let c = LZ4.compress(input)
        #expect(throws: LZ4Error.self) { try LZ4.decompress(c, maxSize: 9_999) }
        #expect(try LZ4.decompress(c, maxSize: 10_000).count == 10_000)
        #expect(throws: LZ4Error.self) { try LZ4.decompress(c, originalSize: 10_001) }
        #expect(throws: LZ4Error.self) { try LZ4.decompress(c, originalSize: 9_999) }
        // Output too small for the compressed form: compress reports nil rather than overflowing.
        var tiny = [UInt8](repeating: 0, count: 4)
        let random = SeededRandom(seed: 3).bytesCopy(1000)
        let n = tiny.withUnsafeMutableBytes { o in random.withUnsafeBytes { LZ4.compress($0, into: o) } }
        #expect(n == nil)
    }

    @Test func malformedInputNeverCrashes() throws {
        #expect(throws: LZ4Error.self) { try LZ4.decompress([], maxSize: 100) }
        // A match offset pointing before the start of output.
        #expect(throws: LZ4Error.self) { try LZ4.decompress([0x10, 0x61, 0x05, 0x00], maxSize: 100) }
        // Truncated literals.
        #expect(throws: LZ4Error.self) { try LZ4.decompress([0x50, 0x61], maxSize: 100) }
        var rng = SeededRandom(seed: 9)
        let good = LZ4.compress((0..<5000).map { UInt8($0 % 13) })
        for _ in 0..<2000 {
            var bad = good
            let i = Int.random(in: 0..<bad.count, using: &rng)
            bad[i] = UInt8.random(in: 0...255, using: &rng)
            _ = try? LZ4.decompress(bad, maxSize: 5000)
            _ = try? LZ4.decompress(Array(bad.prefix(i)), maxSize: 5000)
        }
        for _ in 0..<2000 {
            _ = try? LZ4.decompress(rng.bytes(Int.random(in: 1...64, using: &rng)), maxSize: 4096)
        }
    }
}

extension SeededRandom {
    func bytesCopy(_ n: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(n)
    }
}
