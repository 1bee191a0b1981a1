import ClusterTestKit
import Foundation
import Multiformats
import Testing
import UnixFS

/// Random files checked against Debian's `ipfs_cid` (an independent Go implementation of
/// kubo's default import), which `.ci/setup` installs.
@Suite struct IndependentToolTests {
    static let tool = "/usr/bin/ipfs_cid"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: tool), "ipfs_cid is not installed (apt-get install ipfs-cid)"))
    func randomFilesMatchIpfsCid() throws {
        var rng = SeededRandom(seed: 2026)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-ipfscid-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let sizes = [0, 1, 262_143, 262_144, 262_145, 174 * 262_144 + 1] + (0..<12).map { _ in Int.random(in: 0..<3_000_000, using: &rng) }
        for (i, size) in sizes.enumerated() {
            let data = rng.bytes(size)
            let file = dir.appendingPathComponent("f\(i)")
            try Data(data).write(to: file)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.tool)
            p.arguments = [file.path]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            struct Answer: Decodable { let CIDv0: String; let CIDv1: String }
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("{") })
            let answer = try JSONDecoder().decode(Answer.self, from: Data(line.utf8))
            let v0 = try FileImporter.importBytes(data, settings: ImportSettings()).root.cid
            #expect(v0.description == answer.CIDv0, "size \(size)")
            // ipfs_cid's "CIDv1" is the CIDv0 root restated as CIDv1 (its DAG keeps v0 links).
            #expect(v0.v1.description == answer.CIDv1, "size \(size)")
        }
    }
}
