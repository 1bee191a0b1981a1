import ClusterTestKit
import Foundation
import Ingest
import NIOConcurrencyHelpers
import Testing
import UnixFS

@Suite struct PathAdderTests {
    @Test func progressReportsEveryByteAndBlocksRebuildTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pinmesh-adder-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededRandom(seed: 4)
        let data = rng.bytes(3_000_000)
        let file = dir.appendingPathComponent("f.bin")
        try Data(data).write(to: file)
        let seen = NIOLockedValueBox<[UInt64]>([])
        var options = AddOptions(settings: ImportSettings(cidVersion: .v1))
        options.readSize = 1 << 20
        options.keepBlocks = true
        options.progress = { n in seen.withLockedValue { $0.append(n) } }
        var adder = try PathAdder(options: options)
        var store = MemoryBlocks()
        let root = try adder.add([file.path], entry: { _ in }, blocks: { for b in $0 { store.put(b) } })
        #expect(seen.withLockedValue { $0 } == [1_048_576, 2_097_152, 3_000_000])
        #expect(try Exporter(blocks: store).cat(root) == data)
        #expect(root == (try FileImporter.importBytes(data, settings: ImportSettings(cidVersion: .v1))).root.cid)
    }
}
