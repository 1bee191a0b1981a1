import ClusterTestKit
import Foundation
import Multiformats
import Testing
import UnixFS

/// The CIDs kubo's `ipfs add` gives (Specs/vectors/unixfs-kubo-cids.tsv).
struct KuboFileVector: Sendable, CustomStringConvertible {
    let name: String
    let size: Int
    let sha256: String
    let v0, v1, v0RawLeaves, v1PBLeaves: String
    let v0CumulativeSize, v1CumulativeSize: UInt64

    var description: String { name }

    static let all: [KuboFileVector] = {
        // A copy of ../shared/vectors/unixfs/cids.tsv, so a clone alone can run the tests.
        let text = String(decoding: try! Vectors.data("unixfs-kubo-cids.tsv"), as: UTF8.self)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t").map(String.init)
            return KuboFileVector(
                name: f[0], size: Int(f[1])!, sha256: f[2], v0: f[4], v1: f[5], v0RawLeaves: f[6], v1PBLeaves: f[7],
                v0CumulativeSize: UInt64(f[8])!, v1CumulativeSize: UInt64(f[9])!)
        }
    }()

    /// The file's bytes, generated as the vectors' README describes.
    var bytes: [UInt8] {
        switch name {
        case "empty": return []
        case "a": return [0x61]
        case "hello": return Array("hello world\n".utf8)
        default: return TestData.linear(size)
        }
    }
}

enum TestData {
    /// `byte[i] = (i*31 + 7) mod 251`.
    static func linear(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var v = 7
        for i in 0..<count {
            out[i] = UInt8(v)
            v += 31
            if v >= 251 { v -= 251 }
        }
        return out
    }
}

@Suite struct SharedVectorTests {
    @Test(arguments: KuboFileVector.all)
    func allFourFlagSets(_ v: KuboFileVector) throws {
        let data = v.bytes
        #expect(Hex.string(Multihash.sha256(data).digest) == v.sha256, "generated file does not match its sha256")
        let v0 = try FileImporter.importBytes(data, settings: ImportSettings())
        #expect(v0.root.cid.description == v.v0)
        #expect(v0.root.cumulativeSize == v.v0CumulativeSize)
        #expect(v0.root.fileSize == UInt64(v.size))
        let v1 = try FileImporter.importBytes(data, settings: ImportSettings(cidVersion: .v1))
        #expect(v1.root.cid.description == v.v1)
        #expect(v1.root.cumulativeSize == v.v1CumulativeSize)
        let v0raw = try FileImporter.importBytes(data, settings: ImportSettings(cidVersion: .v0, rawLeaves: true))
        #expect(v0raw.root.cid.description == v.v0RawLeaves)
        let v1pb = try FileImporter.importBytes(data, settings: ImportSettings(cidVersion: .v1, rawLeaves: false))
        #expect(v1pb.root.cid.description == v.v1PBLeaves)
    }

    @Test func streamingInAnyPiecesGivesTheSameRoot() throws {
        let data = TestData.linear(1_048_576 + 12345)
        let whole = try FileImporter.importBytes(data, settings: ImportSettings())
        var rng = SeededRandom(seed: 11)
        for _ in 0..<5 {
            var importer = try FileImporter(settings: ImportSettings(), keepBlocks: false)
            var offset = 0
            while offset < data.count {
                let n = min(Int.random(in: 1...400_000, using: &rng), data.count - offset)
                importer.write(Array(data[offset..<offset + n]))
                offset += n
            }
            #expect(importer.finish() == whole.root)
        }
    }

    @Test func parallelHashingGivesTheSameRoot() throws {
        let data = TestData.linear(5_242_880)
        let sequential = try FileImporter.importBytes(data, settings: ImportSettings(cidVersion: .v1), keepBlocks: true)
        let parallel = try FileImporter.importBytes(
            data, settings: ImportSettings(cidVersion: .v1), keepBlocks: true,
            parallelFor: { n, body in for i in (0..<n).reversed() { body(i) } })
        #expect(parallel.root == sequential.root)
        #expect(parallel.blocks == sequential.blocks)
    }
}
