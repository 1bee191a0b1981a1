import ClusterTestKit
import Foundation
import Multiformats
import Testing
@testable import UnixFS

/// Vectors for trickle, buzhash, directories and HAMT directories, computed by an independent
/// implementation written from the UnixFS and dag-pb specifications and kubo's documented
/// algorithms (which reproduces every kubo vector too). See Specs/unixfs.md.
struct DerivedVectors: Decodable, Sendable {
    struct Settings: Decodable, Sendable, CustomStringConvertible {
        let cid_version: Int?
        let raw_leaves: Bool?
        let chunker: String?
        let layout: String?
        let max_links: Int?
        let hamt_estimation: String?

        func importSettings() throws -> ImportSettings {
            ImportSettings(
                cidVersion: cid_version == 1 ? .v1 : .v0, rawLeaves: raw_leaves,
                chunker: try ChunkerSpec(parsing: chunker ?? "size-262144"), layout: Layout(rawValue: layout ?? "balanced")!,
                maxLinks: max_links ?? 174, hamtSizeEstimation: HAMTSizeEstimation(rawValue: hamt_estimation ?? "links")!)
        }

        var description: String {
            "v\(cid_version ?? 0) raw=\(raw_leaves.map(String.init) ?? "-") \(chunker ?? "") \(layout ?? "") \(hamt_estimation ?? "")"
        }
    }

    struct FileCase: Decodable, Sendable, CustomStringConvertible {
        let data: String
        let settings: Settings
        let cid: String
        let size: UInt64
        var description: String { "\(data) \(settings)" }
    }

    final class Tree: Decodable, @unchecked Sendable {
        let type: String
        let data: String?
        let target: String?
        let entries: [String: Tree]?
        let generate: Generate?
        struct Generate: Decodable { let count: Int; let pattern: String }
    }

    struct DirectoryCase: Decodable, Sendable, CustomStringConvertible {
        let tree: Tree
        let settings: Settings
        let cid: String
        let size: UInt64
        let hamt: Bool
        var description: String { "\(tree.generate.map { "\($0.count) entries" } ?? "tree") \(settings)" }
    }

    let files: [FileCase]
    let directories: [DirectoryCase]

    static let shared: DerivedVectors = try! Vectors.json("unixfs-derived.json")

    static func bytes(_ spec: String) -> [UInt8] {
        if spec.hasPrefix("text:") { return Array(spec.dropFirst(5).utf8) }
        let n = Int(spec.split(separator: "-")[1])!
        return spec.hasPrefix("lin-") ? TestData.linear(n) : TestData.xorshift(n)
    }
}

extension TestData {
    /// xorshift64* from state 1, one top byte per step (the derived vectors' `rnd-N`).
    static func xorshift(_ count: Int) -> [UInt8] {
        var x: UInt64 = 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            x ^= x >> 12
            x ^= x << 25
            x ^= x >> 27
            out[i] = UInt8((x &* 0x2545_F491_4F6C_DD1D) >> 56)
        }
        return out
    }
}

@Suite struct DerivedVectorTests {
    @Test(arguments: DerivedVectors.shared.files)
    func files(_ c: DerivedVectors.FileCase) throws {
        let data = DerivedVectors.bytes(c.data)
        let imported = try FileImporter.importBytes(data, settings: try c.settings.importSettings(), keepBlocks: true)
        #expect(imported.root.cid.description == c.cid)
        #expect(imported.root.cumulativeSize == c.size)
        // Every file reads back byte-identical through the exporter.
        let exporter = Exporter(blocks: MemoryBlocks(imported.blocks))
        #expect(try exporter.cat(imported.root.cid) == data)
    }

    func build(_ tree: DerivedVectors.Tree, _ encoder: NodeEncoder, _ blocks: inout [Block]) throws -> ImportedNode {
        switch tree.type {
        case "file":
            let r = try FileImporter.importBytes(DerivedVectors.bytes(tree.data!), settings: encoder.settings, keepBlocks: true)
            blocks += r.blocks
            return r.root
        case "symlink":
            let s = DirectoryEncoder(encoder: encoder).symlink(target: tree.target!)
            blocks.append(s.block!)
            return s.node
        default:
            var entries: [DirectoryEntry] = []
            if let g = tree.generate {
                for i in 0..<g.count {
                    let name = g.pattern.replacingOccurrences(of: "%05d", with: String(format: "%05d", i))
                    let r = try FileImporter.importBytes(Array(name.utf8), settings: encoder.settings, keepBlocks: true)
                    blocks += r.blocks
                    entries.append(DirectoryEntry(name: name, node: r.root))
                }
            }
            for (name, sub) in tree.entries ?? [:] {
                entries.append(DirectoryEntry(name: name, node: try build(sub, encoder, &blocks)))
            }
            return try DirectoryEncoder(encoder: encoder).directory(entries, blocks: &blocks)
        }
    }

    @Test(arguments: DerivedVectors.shared.directories)
    func directories(_ c: DerivedVectors.DirectoryCase) throws {
        let encoder = NodeEncoder(settings: try c.settings.importSettings(), keepBlocks: true)
        var blocks: [Block] = []
        let root = try build(c.tree, encoder, &blocks)
        #expect(root.cid.description == c.cid)
        #expect(root.cumulativeSize == c.size)
        let exporter = Exporter(blocks: MemoryBlocks(blocks))
        #expect(try exporter.kind(root.cid) == (c.hamt ? .hamtDirectory : .directory))
        let listed = try exporter.list(root.cid)
        if let g = c.tree.generate {
            #expect(listed.count == g.count)
            #expect(listed.first?.name == "file-00000.txt")
            for entry in listed.prefix(50) { #expect(try exporter.cat(entry.cid) == Array(entry.name.utf8)) }
        } else {
            #expect(listed.map(\.name) == ["Z upper", "a", "b", "link"])
            #expect(try exporter.kind(listed[3].cid) == .symlink(target: "a"))
            #expect(try exporter.cat(listed[1].cid) == Array("hello world\n".utf8))
        }
    }
}
