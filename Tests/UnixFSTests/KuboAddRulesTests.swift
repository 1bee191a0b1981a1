import ClusterTestKit
import Foundation
import Multiformats
import Testing
@testable import UnixFS

/// kubo's own goldens (Specs/vectors/unixfs-kubo-sharness.json, from kubo's sharness tests).
struct SharnessVectors: Decodable, Sendable {
    struct Flags: Decodable, Sendable, CustomStringConvertible {
        let cid_version: Int?
        let raw_leaves: Bool?
        let hash: String?
        let chunker: String?
        let trickle: Bool?
        var options: KuboAddOptions {
            KuboAddOptions(cidVersion: cid_version, rawLeaves: raw_leaves, hash: hash, chunker: chunker, trickle: trickle)
        }
        var description: String { "\(options)" }
    }
    struct Hello: Decodable, Sendable, CustomStringConvertible {
        let flags: Flags
        let cid: String
        var description: String { flags.description }
    }
    struct Planets: Decodable, Sendable, CustomStringConvertible {
        let flags: Flags
        let mars: String
        let venus: String
        let planets: String
        var description: String { flags.description }
    }
    let files: [String: String]
    let hello: [Hello]
    let refused_chunkers: [String]
    let planets: [Planets]

    static let shared: SharnessVectors = try! Vectors.json("unixfs-kubo-sharness.json")
}

@Suite struct KuboAddRulesTests {
    static func file(_ text: String, _ s: ImportSettings) throws -> ImportedNode {
        try FileImporter.importBytes(Array(text.utf8), settings: s).root
    }

    @Test(arguments: SharnessVectors.shared.hello)
    func helloMatchesKubo(_ v: SharnessVectors.Hello) throws {
        let s = try v.flags.options.resolve()
        #expect(try Self.file(SharnessVectors.shared.files["hello.txt"]!, s).cid.description == v.cid)
    }

    @Test(arguments: SharnessVectors.shared.planets)
    func planetsMatchKubo(_ v: SharnessVectors.Planets) throws {
        let s = try v.flags.options.resolve()
        let files = SharnessVectors.shared.files
        let mars = try Self.file(files["planets/mars.txt"]!, s), venus = try Self.file(files["planets/venus.txt"]!, s)
        #expect(mars.cid.description == v.mars)
        #expect(venus.cid.description == v.venus)
        var blocks: [Block] = []
        let dir = try DirectoryEncoder(encoder: NodeEncoder(settings: s, keepBlocks: false)).directory(
            [DirectoryEntry(name: "mars.txt", node: mars), DirectoryEntry(name: "venus.txt", node: venus)], blocks: &blocks)
        #expect(dir.cid.description == v.planets)
    }

    @Test func chunkersKuboRefusesAreRefused() {
        for c in SharnessVectors.shared.refused_chunkers {
            #expect(throws: UnixFSError.self, "\(c)") { try KuboAddOptions(chunker: c).resolve() }
        }
    }

    @Test func aHashOtherThanSHA256MeansCIDv1AndRawLeavesUnlessGiven() throws {
        let s = try KuboAddOptions(hash: "sha2-512").resolve()
        #expect(s.cidVersion == .v1 && s.rawLeaves && s.hashFunction == .sha2_512)
        let pb = try KuboAddOptions(rawLeaves: false, hash: "sha3-256").resolve()
        #expect(pb.cidVersion == .v1 && !pb.rawLeaves)
        // The leaf of a small file is then a raw block named by its sha2-512 multihash.
        let leaf = try Self.file("hello", s)
        #expect(leaf.cid.codec == .raw && leaf.cid.multihash.code == .sha2_512)
        #expect(leaf.cid.multihash == Multihash.digest(Array("hello".utf8), code: .sha2_512))
    }

    /// blake2s at 256 bits, the one go-multihash (so kubo) computes; the others are refused.
    @Test func blake2s256IsAcceptedAndTheOtherSizesRefused() throws {
        let s = try KuboAddOptions(hash: "blake2s-256").resolve()
        #expect(s.cidVersion == .v1 && s.rawLeaves && s.hashFunction == .blake2s(bits: 256))
        let leaf = try Self.file("hello", s)
        #expect(leaf.cid.multihash.code == .blake2s(bits: 256))
        #expect(leaf.cid.multihash.digest == Blake2s.hash(Array("hello".utf8)))
        #expect(throws: UnixFSError.self) { try KuboAddOptions(hash: "blake2s-160").resolve() }
        #expect(throws: UnixFSError.self) { try KuboAddOptions(hash: "blake3").resolve() }
    }

    @Test func cidv0WithAnotherHashIsRefusedInKubosWords() {
        #expect(throws: UnixFSError.self) { try KuboAddOptions(cidVersion: 0, hash: "sha2-512").resolve() }
        do {
            _ = try KuboAddOptions(cidVersion: 0, hash: "blake2b-256").resolve()
        } catch {
            #expect(error.message == "CIDv0 only supports sha2-256")
        }
        // The v0 profile sets the CID version as kubo's configuration does: the same refusal.
        #expect(throws: UnixFSError.self) { try KuboAddOptions(profile: "unixfs-v0-2015", hash: "sha2-512").resolve() }
        #expect(throws: UnixFSError.self) { try KuboAddOptions(cidVersion: 2).resolve() }
        #expect(throws: UnixFSError.self) { try KuboAddOptions(hash: "md5").resolve() }
        #expect(throws: UnixFSError.self) { try KuboAddOptions(hash: "no-such-hash").resolve() }
    }

    @Test func aProfilesValuesCountAsGiven() throws {
        // kubo: raw leaves set false by the profile stay false under --cid-version=1.
        let v1 = try KuboAddOptions(profile: "unixfs-v0-2015", cidVersion: 1).resolve()
        #expect(v1.cidVersion == .v1 && !v1.rawLeaves)
        let modern = try KuboAddOptions(profile: "unixfs-v1-2025").resolve()
        #expect(modern == .unixfsV1_2025)
        #expect(try KuboAddOptions(profile: "unixfs-v1-2025", rawLeaves: false).resolve().rawLeaves == false)
        #expect(throws: UnixFSError.self) { try KuboAddOptions(profile: "fast").resolve() }
    }

    @Test func chunkLimitIsKubo040sAtTheLimit() throws {
        #expect(try ChunkerSpec(parsing: "size-2096896") == .size(2_096_896))
        #expect(throws: UnixFSError.self) { try ChunkerSpec(parsing: "size-2096897") }
        #expect(try ChunkerSpec(parsing: "rabin-100-200-2096896") == .rabin(min: 100, avg: 200, max: 2_096_896))
        #expect(throws: UnixFSError.self) { try ChunkerSpec(parsing: "rabin-100-200-2096897") }
        // rabin-AVG: AVG × 1.5 at most the limit.
        #expect(try ChunkerSpec(parsing: "rabin-1397930") == .rabin(min: 465_976, avg: 1_397_930, max: 2_096_895))
        #expect(throws: UnixFSError.self) { try ChunkerSpec(parsing: "rabin-1397932") }
        // kubo's strict order: min < avg < max.
        #expect(throws: UnixFSError.self) { try ChunkerSpec(parsing: "rabin-64-64-128") }
        #expect(throws: UnixFSError.self) { try ChunkerSpec(parsing: "rabin-16-64-64") }
        #expect(try ChunkerSpec(parsing: "rabin-16-17-18") == .rabin(min: 16, avg: 17, max: 18))
        // A whole 2,096,896-byte chunk is one dag-pb leaf under the 2 MiB block limit.
        let data = [UInt8](repeating: 7, count: 2_096_896)
        let (root, blocks) = try FileImporter.importBytes(data, settings: ImportSettings(chunker: .size(2_096_896)), keepBlocks: true)
        #expect(blocks.count == 1 && blocks[0].bytes.count <= PBNode.maxBlockBytes && root.fileSize == 2_096_896)
    }

    @Test func buzhashNeverCutsAnEmptyChunk() throws {
        // kubo issue #6953, fixed in kubo 0.5: an empty file is the empty file's CID.
        let empty = try FileImporter.importBytes([], settings: ImportSettings(chunker: .buzhash)).root
        #expect(empty.cid.description == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")
        // A file that ends exactly on a cut is its chunks and nothing after: for the first
        // chunk of rnd-1000000, one leaf and no root node.
        let data = DerivedVectors.bytes("rnd-1000000")
        var cutter = try ChunkCutter(.buzhash)
        let first = try #require(data.withUnsafeBytes { cutter.next($0, atEnd: false) })
        let one = try FileImporter.importBytes(Array(data[..<first]), settings: ImportSettings(chunker: .buzhash), keepBlocks: true)
        #expect(one.blocks.count == 1 && one.root.fileSize == UInt64(first))
    }

    struct BuzhashCuts: Decodable, Sendable {
        struct Case: Decodable, Sendable, CustomStringConvertible {
            let data: String
            let cuts: [Int]
            var description: String { data }
        }
        let cases: [Case]
        static let shared: BuzhashCuts = try! Vectors.json("buzhash-cuts.json")
    }

    /// Where the cuts fall, from a transliteration of boxo's buzhash.go
    /// (Tests/Compat/make_buzhash_vectors.py): the derived buzhash CIDs follow from these and
    /// the layouts the other vectors check.
    @Test(arguments: BuzhashCuts.shared.cases)
    func buzhashCutsWhereBoxoDoes(_ c: BuzhashCuts.Case) throws {
        let data = DerivedVectors.bytes(c.data)
        var cutter = try ChunkCutter(.buzhash)
        var offset = 0
        var cuts: [Int] = []
        try data.withUnsafeBytes { p in
            while let n = cutter.next(UnsafeRawBufferPointer(rebasing: p[offset...]), atEnd: true) {
                try #require(n > 0)
                cuts.append(n)
                offset += n
            }
        }
        #expect(cuts == c.cuts)
    }

    @Test func inlineGivesSmallBlocksIdentityCIDs() throws {
        let s = try KuboAddOptions(inline: true).resolve()
        #expect(s.inlineLimit == 32)
        let small = try Self.file("small inline data", s)
        #expect(small.cid.multihash.code == .identity && small.cid.version == .v1 && small.cid.codec == .dagPB)
        // The identity CID holds the block itself: the dag-pb leaf of the 17 bytes.
        #expect(small.cid.multihash.digest.count == Int(small.cumulativeSize))
        let raw = try Self.file("tiny", try KuboAddOptions(rawLeaves: true, inline: true, inlineLimit: 4).resolve())
        #expect(raw.cid.multihash.code == .identity && raw.cid.codec == .raw && raw.cid.multihash.digest == Array("tiny".utf8))
        // Over the limit: the configured hash.
        let big = try Self.file(String(repeating: "x", count: 100), s)
        #expect(big.cid.multihash.code == .sha2_256 && big.cid.version == .v0)
        // At the limit (128) accepted, one over refused in kubo's words.
        #expect(try KuboAddOptions(inline: true, inlineLimit: 128).resolve().inlineLimit == 128)
        do {
            _ = try KuboAddOptions(inline: true, inlineLimit: 129).resolve()
            Issue.record("an inline limit of 129 was accepted")
        } catch {
            #expect(error.message == "inline-limit 129 exceeds maximum allowed size of 128 bytes")
        }
        // Without --inline the limit means nothing (kubo checks it only with --inline).
        #expect(try KuboAddOptions(inlineLimit: 500).resolve().inlineLimit == nil)
    }
}
