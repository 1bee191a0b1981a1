import ClusterTestKit
import Multiformats
import Testing

/// Digests from Python's hashlib (Specs/vectors/hash-functions.json, written by
/// Tests/Compat/make_hash_vectors.py), computed at once and fed in uneven pieces.
struct HashFunctionVectors: Decodable, Sendable {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        let function: String
        let input: String
        let data_hex: String
        let digest: String
        var description: String { "\(function)(\(input))" }
    }
    let cases: [Case]
    static let shared: HashFunctionVectors = try! Vectors.json("hash-functions.json")
}

@Suite struct HashFunctionTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test(arguments: HashFunctionVectors.shared.cases)
    func digestMatchesHashlib(_ c: HashFunctionVectors.Case) throws {
        let code = try #require(Multicodec(name: c.function))
        let data = Self.hex(c.data_hex)
        let whole = try #require(Multihash.digest(data, code: code))
        #expect(whole.digest == Self.hex(c.digest))
        #expect(whole.code == code && Multihash.requiredDigestLength(for: code) == whole.digest.count)
        var h = try #require(Multihash.Hasher(code: code))
        var i = 0, step = 1
        while i < data.count {
            let j = min(data.count, i + step)
            h.update(Array(data[i..<j]))
            i = j
            step = step * 3 + 1
        }
        #expect(h.finalize() == whole)
        #expect(whole.verifies(data) == true)
        // The multihash round-trips through its bytes, and a digest of the wrong length is refused.
        #expect(try Multihash(bytes: whole.bytes) == whole)
        #expect(throws: MultiformatsError.self) { try Multihash(code: code, digest: Array(whole.digest.dropLast())) }
    }

    /// Fed in pieces of every size up to two blocks, BLAKE2s gives the one-shot digest (the
    /// last block, full or not, is compressed with the final flag).
    @Test func blake2sIncrementalMatchesOneShot() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let whole = Blake2s.hash(data)
        for piece in 1...130 {
            var b = Blake2s()
            var i = 0
            while i < data.count {
                b.update(Array(data[i..<min(data.count, i + piece)]))
                i += piece
            }
            #expect(b.finalize() == whole, "pieces of \(piece)")
        }
        #expect(Blake2s.hash([], outputBytes: 32).count == 32)
    }

    @Test func functionsKuboRefusesOrPinMeshCannotComputeHaveNoHasher() {
        // blake2b below 160 bits is refused by kubo's verifcid; go-multihash (so kubo) computes
        // blake2s at 256 bits only; blake3 is not built here.
        #expect(Multihash.Hasher(code: .blake2b(bits: 128)) == nil)
        #expect(Multihash.Hasher(code: .blake2s(bits: 256)) != nil)
        #expect(Multihash.Hasher(code: .blake2s(bits: 160)) == nil)
        #expect(Multihash.Hasher(code: .blake3) == nil)
        #expect(Multihash.Hasher(code: .identity) == nil)
        #expect(Multicodec(name: "blake2b-160") == .blake2b(bits: 160) && Multicodec.blake2b(bits: 256) == .blake2b_256)
    }
}
