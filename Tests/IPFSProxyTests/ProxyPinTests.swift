import ClusterModel
import ClusterTestKit
import Foundation
import Multiformats
import NIOCore
import Node
import Testing

/// `pin/add`, `pin/rm`, `pin/ls`, `pin/update` through the proxy act on the cluster's pinset and
/// answer in kubo's shapes.
@Suite(.serialized) struct ProxyPinTests {
    @Test("pin/add pins cluster-wide, pin/ls lists it in each shape, pin/rm removes it everywhere")
    func pinLifecycle() async throws {
        try await ProxyFixture.with { f in
            let c = f.cluster
            let cid = try await c.addFile(seededBytes(50_000, seed: 10), to: 1)
            let added = try await f.call("pin/add", "arg=\(cid)&name=photos")
            #expect(added.status == 200 && added.text == "{\"Pins\":[\"\(cid)\"]}\n")
            #expect(added.headers["Server"].first?.hasPrefix("pinmesh/ipfsproxy/") == true)
            for m in c.members {
                #expect(await LocalCluster.eventually { (try? await m.peer.pinned(cid))?.name == "photos" }, "peer \(m.index) has the pin")
            }
            // Every peer's daemon ends up holding it (replication everywhere in the test cluster).
            #expect(await LocalCluster.eventually { await c[1].peer.status(cid).peerMap.values.allSatisfy { $0.status == .pinned } })

            let all = try await f.call("pin/ls")
            #expect(all.text == "{\"Keys\":{\"\(cid)\":{\"Type\":\"recursive\"}}}\n")
            let one = try await f.call("pin/ls", "arg=\(cid)")
            #expect(one.text == all.text)
            let streamed = try await f.call("pin/ls", "stream=true")
            #expect(streamed.text == "{\"Cid\":\"\(cid)\",\"Type\":\"recursive\"}\n" && streamed.headers["X-Chunked-Output"].first == "1")
            let named = try await f.call("pin/ls", "arg=\(cid)&stream=true&names=true")
            #expect(named.text == "{\"Cid\":\"\(cid)\",\"Type\":\"recursive\",\"Name\":\"photos\"}\n")
            let direct = try await f.call("pin/ls", "type=direct")
            #expect(direct.text == "{\"Keys\":{}}\n")

            let removed = try await f.call("pin/rm", "arg=\(cid)")
            #expect(removed.status == 200 && removed.text == "{\"Pins\":[\"\(cid)\"]}\n")
            for m in c.members {
                #expect(await LocalCluster.eventually { (try? await m.peer.pinned(cid)) == nil }, "peer \(m.index) dropped the pin")
            }
            let again = try await f.call("pin/rm", "arg=\(cid)")
            #expect(again.status == 500 && again.message.hasPrefix("not pinned or pinned indirectly"))
            let gone = try await f.call("pin/ls", "arg=\(cid)")
            #expect(gone.status == 500 && gone.message == "path '\(cid)' is not pinned")
        }
    }

    @Test("the path forms, recursive=false and /ipfs/ paths pin as kubo reads them")
    func pinForms() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let cid = try await f.cluster.addFile(seededBytes(3_000, seed: 11), to: 0)
            let slash = try await f.call("pin/add/\(cid)", "recursive=false")
            #expect(slash.text == "{\"Pins\":[\"\(cid)\"]}\n")
            #expect(try await f.cluster[0].peer.pinned(cid)?.options.mode == .direct)
            let ls = try await f.call("pin/ls/\(cid)")
            #expect(ls.text == "{\"Keys\":{\"\(cid)\":{\"Type\":\"direct\"}}}\n")
            let path = try await f.call("pin/rm", "arg=/ipfs/\(cid)")
            #expect(path.status == 200 && path.text == "{\"Pins\":[\"\(cid)\"]}\n")
            #expect(try await f.cluster[0].peer.pinned(cid) == nil)
        }
    }

    @Test("pin/update pins the new CID with the old pin's options and unpins the old one unless unpin=false")
    func pinUpdate() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let peer = f.cluster[0].peer
            let a = try await f.cluster.addFile(seededBytes(2_000, seed: 12), to: 0)
            let b = try await f.cluster.addFile(seededBytes(2_000, seed: 13), to: 0)
            let d = try await f.cluster.addFile(seededBytes(2_000, seed: 14), to: 0)
            _ = try await f.call("pin/add", "arg=\(a)&name=site")
            let moved = try await f.call("pin/update", "arg=\(a)&arg=\(b)")
            #expect(moved.status == 200 && moved.text == "{\"Pins\":[\"\(a)\",\"\(b)\"]}\n")
            #expect(try await peer.pinned(a) == nil)
            #expect(try await peer.pinned(b)?.name == "site")
            let kept = try await f.call("pin/update", "arg=\(b)&arg=\(d)&unpin=false")
            #expect(kept.status == 200)
            #expect(try await peer.pinned(b) != nil)
            #expect(try await peer.pinned(d)?.name == "site")
            let missing = try await f.call("pin/update", "arg=\(a)&arg=\(b)")
            #expect(missing.status == 500 && missing.message.contains("not pinned in the cluster"))
            let one = try await f.call("pin/update", "arg=\(a)")
            #expect(one.status == 400 && one.message == "argument \"to-path\" is required")
        }
    }

    @Test("wrong arguments are refused with kubo's messages and codes")
    func pinErrors() async throws {
        try await ProxyFixture.with(peers: 1) { f in
            let none = try await f.call("pin/add")
            #expect(none.status == 400 && none.message == "argument \"ipfs-path\" is required")
            #expect(none.object["Code"] as? Int == 1 && none.object["Type"] as? String == "error")
            let bad = try await f.call("pin/add", "arg=notacid")
            #expect(bad.status == 400 && bad.message.hasPrefix("invalid path \"notacid\""))
            let badPath = try await f.call("pin/rm", "arg=/foo/bar")
            #expect(badPath.status == 400 && badPath.message.hasPrefix("invalid path \"/foo/bar\""))
            let type = try await f.call("pin/ls", "type=weird")
            #expect(type.status == 400 && type.message == "invalid type 'weird', must be one of {direct, indirect, recursive, all}")
            let flag = try await f.call("pin/ls", "stream=maybe")
            #expect(flag.status == 400 && flag.message.contains("could not convert value \"maybe\" to type bool"))
        }
    }
}
