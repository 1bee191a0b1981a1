import ClusterModel
import ClusterTestKit
import Foundation
import Logging
import Multiformats
import Node
import Pinset
import PinningService
import Testing

/// Requests live in the pinset: every peer answers the same, a restart loses none, and one
/// CID's pin holds as many requests as its metadata can store.
@Suite(.serialized) struct PSAReplicationTests {
    static func quiet() -> Logger {
        var l = Logger(label: "test.psa")
        l.logLevel = .critical
        return l
    }

    @Test("another peer and a restarted peer list the same requests with the same ids and times")
    func replicatedAndDurable() async throws {
        let c = try await LocalCluster(peers: 2)
        defer { Task { await c.shutdown() } }
        let here = PinningService(peer: c[0].peer, logger: Self.quiet())
        var made: [PSAJSON.PinStatus] = []
        for n in 0..<5 {
            let cid = try await c.addFile(Array("replicated \(n)".utf8), to: 0)
            made.append(try await here.create(.init(PSAJSON.Pin(cid: cid.description, name: "r\(n)", meta: ["n": "\(n)"]))))
        }
        var all = PSAQuery()
        all.statuses = Set(PSAStatus.allCases)
        let there = PinningService(peer: c[1].peer, logger: Self.quiet())
        func key(_ r: PSAJSON.PinResults) -> [String] { r.results.map { "\($0.requestid) \($0.created) \($0.pin.name ?? "")" } }
        let expected = made.reversed().map { "\($0.requestid) \($0.created) \($0.pin.name ?? "")" }
        #expect(await LocalCluster.eventually { key(await there.list(all)) == expected })
        // A request made on the other peer shows here; a delete there removes it here.
        let cid = try await c.addFile(Array("from peer 1".utf8), to: 1)
        let far = try await there.create(.init(PSAJSON.Pin(cid: cid.description)))
        #expect(await LocalCluster.eventually { (try? await here.get(far.requestid))?.requestid == far.requestid })
        try await there.delete(made[0].requestid)
        #expect(await LocalCluster.eventually { (try? await here.get(made[0].requestid)) == nil })
        // Restart peer 0: a new service on it reads the same requests from the pinset.
        await c.kill(0)
        try await c.restart(0)
        let again = PinningService(peer: c[0].peer, logger: Self.quiet())
        #expect(await LocalCluster.eventually { await again.requestCount == 5 })
        #expect(Set(key(await again.list(all))) == Set(key(await there.list(all))))
    }

    @Test("a pin the cluster cannot allocate is 409 INSUFFICIENT_FUNDS and leaves no request")
    func cannotAllocate() async throws {
        let c = try await LocalCluster(peers: 1) { s in
            s.replicationMin = 2
            s.replicationMax = 2
        }
        defer { Task { await c.shutdown() } }
        let psa = PinningService(peer: c[0].peer, logger: Self.quiet())
        do {
            _ = try await psa.create(.init(PSAJSON.Pin(cid: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")))
            Issue.record("a pin that needs 2 peers of 1 was accepted")
        } catch {
            #expect(error.status == 409 && error.code == .insufficientFunds, "\(error)")
        }
        #expect(await psa.requestCount == 0)
    }

    @Test("statuses asked in one pass over the cluster's status stream agree with those asked per CID")
    func bulkStatuses() async throws {
        let c = try await LocalCluster(peers: 2)
        defer { Task { await c.shutdown() } }
        let one = PinningService(peer: c[0].peer, logger: Self.quiet())
        var bulk = PinningService.Settings()
        bulk.bulkStatusAbove = 0
        let many = PinningService(peer: c[0].peer, settings: bulk, logger: Self.quiet())
        for n in 0..<6 {
            let cid = try await c.addFile(Array("bulk \(n)".utf8), to: 0)
            _ = try await one.create(.init(PSAJSON.Pin(cid: cid.description)))
        }
        let never = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        _ = try await one.create(.init(PSAJSON.Pin(cid: never)))
        var pinned = PSAQuery()
        #expect(await LocalCluster.eventually { await one.list(pinned).count == 6 })
        #expect(await LocalCluster.eventually { await many.list(pinned).count == 6 })
        pinned.statuses = [.queued, .pinning]
        let a = await one.list(pinned)
        let b = await many.list(pinned)
        #expect(a.count == 1 && b.count == 1 && a.results.map(\.requestid) == b.results.map(\.requestid))
        #expect(a.results.first?.delegates == b.results.first?.delegates)
    }

    @Test("a CID's pin holds 64 requests and the 65th is refused with 409; a record over 8 values is 400")
    func requestsPerCIDAtTheLimit() async throws {
        let c = try await LocalCluster(peers: 1)
        defer { Task { await c.shutdown() } }
        let psa = PinningService(peer: c[0].peer, logger: Self.quiet())
        let cid = try await c.addFile(Array("many requests".utf8), to: 0)
        let pin = PSAJSON.Pin(cid: cid.description)
        for _ in 0..<PinCodec.maxMetadataEntries { _ = try await psa.create(.init(pin)) }
        do {
            _ = try await psa.create(.init(pin))
            Issue.record("the 65th request was accepted")
        } catch {
            #expect(error.status == 409 && error.code == .tooManyRequests)
        }
        var q = PSAQuery()
        q.statuses = Set(PSAStatus.allCases)
        q.cids = [cid]
        #expect(await psa.list(q).count == PinCodec.maxMetadataEntries)
        // Size: a meta that takes exactly 8 values fits, one byte more does not.
        let other = try await c.addFile(Array("big request".utf8), to: 0)
        let overhead = #"{"m":{"k":""},"t":1000000000000000000}"#.utf8.count
        let fits = PSAJSON.Pin(cid: other.description, meta: ["k": String(repeating: "v", count: PSARequest.maxChunks * PSARequest.chunkBytes - overhead)])
        _ = try await psa.create(.init(fits))
        let over = PSAJSON.Pin(cid: other.description, meta: ["k": String(repeating: "v", count: PSARequest.maxChunks * PSARequest.chunkBytes - overhead + 1)])
        do {
            _ = try await psa.create(.init(over))
            Issue.record("a record over the limit was accepted")
        } catch {
            #expect(error.status == 400 && error.code == .requestTooLarge)
        }
    }
}
