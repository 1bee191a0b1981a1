import ClusterTestKit
import Datastore
import Foundation
import Multiformats
import Testing
import UnixFS

@Suite struct BlockstoreTests {
    static func raw(_ s: String) -> Block {
        let bytes = Array(s.utf8)
        return Block(cid: .v1(codec: .raw, .sha256(bytes)), bytes: bytes)
    }

    @Test func layoutIsKubosFlatfs() throws {
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path)
        let b = Self.raw("hello world\n")
        try store.put(b.cid, b.bytes)
        // kubo: key = base32 (upper, unpadded) of the multihash; shard = next-to-last/2.
        let key = FlatfsBlockstore.key(b.cid.multihash)
        #expect(key.hasPrefix("CIQ"))
        let shard = String(key.dropLast().suffix(2))
        #expect(FileManager.default.fileExists(atPath: "\(dir.path)/\(shard)/\(key).data"))
        #expect(try String(contentsOfFile: dir.path + "/SHARDING", encoding: .utf8) == "/repo/flatfs/shard/v1/next-to-last/2\n")
        #expect(try store.get(b.cid) == b.bytes)
        // The same multihash under another codec is the same file.
        #expect(store.has(.v1(codec: .dagPB, b.cid.multihash)))
    }

    struct FlatfsVectors: Decodable {
        struct Entry: Decodable {
            let cid: String
            let key: String
            let path: String
        }
        let sharding: String
        let blocks: [Entry]
    }

    /// Keys and paths computed independently (Specs/vectors/embedded-ipfs.json).
    @Test func flatfsKeysMatchTheVectors() throws {
        let v = try Vectors.json("embedded-ipfs.json", as: FlatfsVectors.self)
        #expect(v.sharding == FlatfsBlockstore.shardingSpec)
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path)
        for e in v.blocks {
            let cid = try CID(e.cid)
            #expect(FlatfsBlockstore.key(cid.multihash) == e.key)
            #expect(store.path(cid.multihash) == dir.path + "/" + e.path)
        }
    }

    @Test func refusesBytesThatDoNotMatchTheCID() throws {
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path)
        let b = Self.raw("a")
        #expect(throws: RepoError.self) { try store.put(b.cid, Array("b".utf8)) }
        #expect(!store.has(b.cid))
        #expect(store.usage.objects == 0)
    }

    @Test func corruptBlockIsReportedNeverServed() throws {
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path)
        let b = Self.raw("precious")
        try store.put(b.cid, b.bytes)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: store.path(b.cid.multihash)))
        do {
            _ = try store.get(b.cid)
            Issue.record("a corrupt block was served")
        } catch {
            #expect(error.code == .corrupt)
            #expect(error.message.contains(store.path(b.cid.multihash)))
        }
    }

    @Test func softAndHardSizeLimits() throws {
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path)
        let atSoft = [UInt8](repeating: 1, count: FlatfsBlockstore.softBlockLimit)
        try store.put(.v1(codec: .raw, .sha256(atSoft)), atSoft)
        let overSoft = atSoft + [2]
        #expect(throws: RepoError.self) { try store.put(.v1(codec: .raw, .sha256(overSoft)), overSoft) }
        try store.put(.v1(codec: .raw, .sha256(overSoft)), overSoft, allowBig: true)
        let atHard = [UInt8](repeating: 3, count: FlatfsBlockstore.hardBlockLimit)
        try store.put(.v1(codec: .raw, .sha256(atHard)), atHard, allowBig: true)
        let overHard = atHard + [4]
        #expect(throws: RepoError.self) { try store.put(.v1(codec: .raw, .sha256(overHard)), overHard, allowBig: true) }
    }

    @Test func storageMaxIsEnforcedAtTheLimit() throws {
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path, storageMax: 100)
        let a = [UInt8](repeating: 7, count: 60)
        let b = [UInt8](repeating: 8, count: 40)
        let c = [UInt8](repeating: 9, count: 1)
        try store.put(.v1(codec: .raw, .sha256(a)), a)
        try store.put(.v1(codec: .raw, .sha256(b)), b)  // exactly at StorageMax
        do {
            try store.put(.v1(codec: .raw, .sha256(c)), c)
            Issue.record("a block past StorageMax was stored")
        } catch {
            #expect(error.code == .storageFull)
        }
        #expect(store.usage.bytes == 100 && store.usage.objects == 2)
        #expect(try store.delete(Multihash.sha256(a)))
        try store.put(.v1(codec: .raw, .sha256(c)), c)
        #expect(store.usage.bytes == 41)
    }

    @Test func reopenCountsBlocksAndDropsCrashLeftovers() throws {
        let dir = TempDir()
        do {
            let store = try FlatfsBlockstore(directory: dir.path)
            for i in 0..<20 {
                let b = Self.raw("block \(i)")
                try store.put(b.cid, b.bytes)
            }
        }
        // A write a crash interrupted: a temporary file that never got its name.
        let shard = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.count == 2 }!
        let temp = "\(dir.path)/\(shard)/.temp-123"
        #expect(FileManager.default.createFile(atPath: temp, contents: Data("half a blo".utf8)))
        let store = try FlatfsBlockstore(directory: dir.path)
        #expect(store.usage.objects == 20)
        #expect(!FileManager.default.fileExists(atPath: temp))
        var seen = 0
        for s in store.shards() { seen += store.blocks(inShard: s).count }
        #expect(seen == 20)
    }

    @Test func identityCIDsAreInline() throws {
        let dir = TempDir()
        let store = try FlatfsBlockstore(directory: dir.path)
        let cid = CID.v1(codec: .raw, try .identity(Array("tiny".utf8)))
        #expect(store.has(cid))
        #expect(try store.get(cid) == Array("tiny".utf8))
        #expect(try !store.put(cid, Array("tiny".utf8)))
    }
}

@Suite struct PinStoreTests {
    func cid(_ s: String, _ codec: Multicodec = .dagPB) -> CID { .v1(codec: codec, .sha256(Array(s.utf8))) }

    @Test func kubosRulesBetweenDirectAndRecursive() throws {
        let dir = TempDir()
        let pins = try IPFSPinStore(path: dir.path + "/pins.sqlite")
        let a = cid("a")
        try pins.add([IPFSPin(cid: a, mode: .direct)])
        try pins.add([IPFSPin(cid: a, mode: .recursive(maxDepth: nil), name: "n")])  // upgrades
        #expect(try pins.get(a)?.mode == .recursive(maxDepth: nil))
        #expect(try pins.get(a)?.name == "n")
        do {
            try pins.add([IPFSPin(cid: a, mode: .direct)])
            Issue.record("a direct pin replaced a recursive one")
        } catch {
            #expect(error.message == "pin: \(a) already pinned recursively")
        }
        do {
            try pins.remove(a, recursive: false)
            Issue.record("a recursive pin was removed without recursive")
        } catch {
            #expect(error.code == .pinConflict)
        }
        try pins.remove(a, recursive: true)
        do {
            try pins.remove(a, recursive: true)
            Issue.record("removing a missing pin succeeded")
        } catch {
            #expect(error.message == "not pinned or pinned indirectly")
        }
    }

    @Test func deeperPinReplacesShallowerNeverTheReverse() throws {
        let dir = TempDir()
        let pins = try IPFSPinStore(path: dir.path + "/pins.sqlite")
        let a = cid("a")
        try pins.add([IPFSPin(cid: a, mode: .recursive(maxDepth: 2))])
        try pins.add([IPFSPin(cid: a, mode: .recursive(maxDepth: 1))])
        #expect(try pins.get(a)?.mode == .recursive(maxDepth: 2))
        try pins.add([IPFSPin(cid: a, mode: .recursive(maxDepth: 5))])
        #expect(try pins.get(a)?.mode == .recursive(maxDepth: 5))
        try pins.add([IPFSPin(cid: a, mode: .recursive(maxDepth: nil))])
        #expect(try pins.get(a)?.mode == .recursive(maxDepth: nil))
    }

    @Test func pagesCoverEveryPinOnce() throws {
        let dir = TempDir()
        let pins = try IPFSPinStore(path: dir.path + "/pins.sqlite")
        let all = (0..<2503).map { IPFSPin(cid: cid("p\($0)"), mode: $0 % 3 == 0 ? .direct : .recursive(maxDepth: nil)) }
        try pins.add(all)
        var seen = Set<CID>()
        try pins.forEach(pageSize: 500) { #expect(seen.insert($0.cid).inserted) }
        #expect(seen.count == 2503)
        var recursive = 0
        try pins.forEach(.recursive, pageSize: 1000) { _ in recursive += 1 }
        #expect(recursive == all.filter { $0.mode != .direct }.count)
        #expect(try pins.count() == 2503)
    }
}
