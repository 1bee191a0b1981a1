import ClusterModel
import Multiformats
import PinTracker
import Sodium
import Foundation
import Testing

@Suite struct PinTrackerInstanceTests {
    static func cid(_ n: Int) -> CID { CID.v1(codec: .raw, .sha256(Array("block \(n)".utf8))) }
    static let me = try! PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes)
    static let other = try! PeerID(ed25519PublicKey: Ed25519.PrivateKey.generate().publicKey.bytes)
    let now = Timestamp(unixMillis: 1_700_000_000_000)

    func pin(_ n: Int, submittedMillisAgo: Int64 = 0, allocations: [PeerID] = [me]) -> Pin {
        Pin(cid: Self.cid(n), allocations: allocations, timestamp: Timestamp(unixMillis: now.unixMillis - submittedMillisAgo))
    }

    @Test func newPinsRunBeforeRetriesAndOldPins() throws {
        var t = PinTrackerInstance()
        let old = pin(1, submittedMillisAgo: 48 * 3_600_000)
        try t.enqueue(.pin, old, now: now)
        try t.enqueue(.pin, pin(2), now: now)
        try t.enqueue(.pin, pin(3), now: now)
        #expect(t.queuedCount == 3)
        // Young pins first (in order), then the old one.
        let first = t.next(now: now)
        #expect(first?.pin.cid == Self.cid(2))
        let second = t.next(now: now)
        #expect(second?.pin.cid == Self.cid(3))
        let lastNext = t.next(now: now)
        let last = try #require(lastNext)
        #expect(last.pin.cid == Self.cid(1) && !last.priority)
        let none = t.next(now: now)
        #expect(none == nil)
        #expect(t.queuedCount == 0)
    }

    @Test func failuresKeepTheErrorAndCountAttemptsAndLosePriorityPastTheLimit() throws {
        var s = PinTrackerInstance.Settings()
        s.priorityMaxRetries = 2
        var t = PinTrackerInstance(settings: s)
        let p = pin(1)
        for attempt in 1...3 {
            if attempt == 1 { try t.enqueue(.pin, p, now: now) } else { #expect(try t.retry(p.cid, now: now)) }
            let opNext = t.next(now: now)
        let op = try #require(opNext)
            #expect(op.priority == (attempt <= 3))
            #expect(PinTrackerInstance.status(pin: p, me: Self.me, operation: t.operation(p.cid), pinnedInIPFS: false) == .pinning)
            t.finish(p.cid, id: op.id, error: "daemon down", now: now)
            let failed = try #require(t.operation(p.cid))
            #expect(failed.phase == .error && failed.attempts == attempt && failed.error == "daemon down")
            #expect(PinTrackerInstance.status(pin: p, me: Self.me, operation: failed, pinnedInIPFS: false) == .pinError)
        }
        // Three failures exceed priorityMaxRetries 2: the retry goes to the normal queue.
        #expect(try t.retry(p.cid, now: now))
        #expect(t.operation(p.cid)?.priority == false)
        #expect(t.failed.isEmpty)
        let opNext = t.next(now: now)
        let op = try #require(opNext)
        t.finish(p.cid, id: op.id, error: nil, now: now)
        #expect(t.operation(p.cid) == nil)
        #expect(try t.retry(p.cid, now: now) == false)
    }

    /// Failed pins come back on their own, every recover round once their backoff (1, 2, 4, then
    /// at most 8 intervals after the n-th failure) has passed.
    @Test func failedOperationsAreRetriedWithBackoff() throws {
        var t = PinTrackerInstance()
        let interval: Int64 = 60_000
        let p = pin(1)
        try t.enqueue(.pin, p, now: now)
        var clock = now.unixMillis
        var waits: [Int64] = []
        for _ in 1...5 {
            let opNext = t.next(now: Timestamp(unixMillis: clock))
            let op = try #require(opNext)
            t.finish(p.cid, id: op.id, error: "no provider", now: Timestamp(unixMillis: clock))
            let failedAt = clock
            // Rounds every interval until the retry is queued.
            repeat { clock += interval } while t.retryDue(now: Timestamp(unixMillis: clock), intervalMillis: interval) == 0
            waits.append((clock - failedAt) / interval)
        }
        #expect(waits == [1, 2, 4, 8, 8])
        #expect(t.operation(p.cid)?.phase == .queued && t.operation(p.cid)?.attempts == 5)
        // Nothing else is touched: a queued or succeeded operation is not a failed one.
        #expect(t.retryDue(now: Timestamp(unixMillis: clock + 100 * interval), intervalMillis: interval) == 0)
    }

    @Test func anUnpinReplacesARunningPinWhoseResultIsThenIgnored() throws {
        var t = PinTrackerInstance()
        let p = pin(1)
        try t.enqueue(.pin, p, now: now)
        let runningNext = t.next(now: now)
        let running = try #require(runningNext)
        // The same pin again is left alone.
        #expect(try t.enqueue(.pin, p, now: now) == nil)
        #expect(t.queuedCount == 0)
        let replaced = try t.enqueue(.unpin, Pin(cid: p.cid), now: now)
        #expect(replaced == running.id)
        #expect(PinTrackerInstance.status(pin: nil, me: Self.me, operation: t.operation(p.cid), pinnedInIPFS: false) == .unpinQueued)
        // The cancelled pin's late result changes nothing.
        t.finish(p.cid, id: running.id, error: nil, now: now)
        #expect(t.operation(p.cid)?.kind == .unpin)
        let unpinNext = t.next(now: now)
        let unpin = try #require(unpinNext)
        #expect(unpin.kind == .unpin)
        let none = t.next(now: now)
        #expect(none == nil)
    }

    @Test func theQueueRefusesPastItsLimitAndKeepsWhatItHas() throws {
        var s = PinTrackerInstance.Settings()
        s.maxQueued = 3
        var t = PinTrackerInstance(settings: s)
        for n in 0..<3 { try t.enqueue(.pin, pin(n), now: now) }
        #expect(t.queuedCount == 3)
        #expect(throws: PinTrackerError.self) { try t.enqueue(.pin, pin(9), now: now) }
        // Replacing a queued operation at the limit is allowed (it frees its own slot).
        #expect(try t.enqueue(.unpin, Pin(cid: Self.cid(0)), now: now) == nil)
        #expect(t.queuedCount == 3)
        #expect(t.operation(Self.cid(9)) == nil)
        // Draining one makes room.
        _ = t.next(now: now)
        try t.enqueue(.pin, pin(9), now: now)
        #expect(t.queuedCount == 3)
        // Cancelling a queued operation frees its slot; the stale queue entry is skipped.
        #expect(t.cancel(Self.cid(9)) == nil)
        #expect(t.queuedCount == 2)
        var seen: [CID] = []
        while let op = t.next(now: now) { seen.append(op.pin.cid) }
        #expect(!seen.contains(Self.cid(9)))
        #expect(seen.count == 2)
    }

    @Test func statusWithoutAnOperationComesFromTheStateAndTheDaemon() {
        typealias T = PinTrackerInstance
        let mine = pin(1)
        let remote = pin(2, allocations: [Self.other])
        var everywhere = Pin(cid: Self.cid(3))
        everywhere.options.replicationFactorMin = -1
        everywhere.options.replicationFactorMax = -1
        var meta = pin(4)
        meta.type = .meta
        #expect(T.status(pin: mine, me: Self.me, operation: nil, pinnedInIPFS: true) == .pinned)
        #expect(T.status(pin: mine, me: Self.me, operation: nil, pinnedInIPFS: false) == .unexpectedlyUnpinned)
        #expect(T.status(pin: remote, me: Self.me, operation: nil, pinnedInIPFS: false) == .remote)
        #expect(T.status(pin: everywhere, me: Self.me, operation: nil, pinnedInIPFS: true) == .pinned)
        #expect(T.isAllocated(everywhere, to: Self.other))
        #expect(T.status(pin: meta, me: Self.me, operation: nil, pinnedInIPFS: false) == .sharded)
        #expect(T.status(pin: nil, me: Self.me, operation: nil, pinnedInIPFS: false) == .unpinned)
    }

    @Test func theHousekeepingUnpinOfARemotePinShowsRemote() throws {
        var t = PinTrackerInstance()
        let remote = pin(1, allocations: [Self.other])
        try t.enqueue(.unpin, remote, now: now)
        #expect(PinTrackerInstance.status(pin: remote, me: Self.me, operation: t.operation(remote.cid), pinnedInIPFS: false) == .remote)
        let opNext = t.next(now: now)
        let op = try #require(opNext)
        #expect(PinTrackerInstance.status(pin: remote, me: Self.me, operation: t.operation(remote.cid), pinnedInIPFS: false) == .remote)
        // A failure is shown as one; an unpin of a CID gone from the state shows its phase.
        t.finish(remote.cid, id: op.id, error: "daemon down", now: now)
        #expect(PinTrackerInstance.status(pin: remote, me: Self.me, operation: t.operation(remote.cid), pinnedInIPFS: false) == .unpinError)
        #expect(try t.retry(remote.cid, now: now))
        #expect(PinTrackerInstance.status(pin: nil, me: Self.me, operation: t.operation(remote.cid), pinnedInIPFS: false) == .unpinQueued)
    }

    @Test func filterWordsSelectStatusesAsIpfsClusterDoes() {
        #expect(TrackerStatus.pinError.matches(filter: "error"))
        #expect(TrackerStatus.unexpectedlyUnpinned.matches(filter: "error"))
        #expect(TrackerStatus.unpinQueued.matches(filter: "queued"))
        #expect(!TrackerStatus.pinned.matches(filter: "queued"))
        #expect(TrackerStatus.remote.matches(filter: "remote"))
        #expect(TrackerStatus.filterWords.contains("unexpectedly_unpinned"))
        #expect(TrackerStatus(rawValue: "cluster_error") == .clusterError)
    }
}

/// The status JSON has ipfs-cluster's keys (`PinInfo` flat, `GlobalPinInfo` with `peer_map`)
/// and reads back what it wrote.
@Suite struct StatusJSONTests {
    @Test func keysAndRoundTrip() throws {
        let me = PinTrackerInstanceTests.me
        var pin = Pin(cid: PinTrackerInstanceTests.cid(1), allocations: [me], timestamp: Timestamp(unixMillis: 1_700_000_000_123))
        pin.options.name = "n"
        pin.options.metadata = ["k": "v"]
        let short = PinInfoShort(peername: "p", status: .pinError, timestamp: Timestamp(unixMillis: 1_700_000_001_000), error: "boom", attemptCount: 2, ipfsPeerID: "12D3KooWx")
        let info = PinInfo(cid: pin.cid, pin: pin, peer: me, short: short)
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(info)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == [
            "cid", "name", "allocations", "origins", "created", "metadata", "peer", "peername", "ipfs_peer_id", "status", "timestamp",
            "error", "attempt_count", "priority_pin",
        ])
        #expect(object?["status"] as? String == "pin_error" && object?["created"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(try JSONDecoder().decode(PinInfo.self, from: JSONEncoder().encode(info)) == info)
        var global = GlobalPinInfo(cid: pin.cid, pin: pin)
        global.peerMap[me.description] = short
        let g = try JSONSerialization.jsonObject(with: JSONEncoder().encode(global)) as? [String: Any]
        #expect(Set(g?.keys.map { $0 } ?? []) == ["cid", "name", "allocations", "origins", "created", "metadata", "peer_map"])
        #expect(try JSONDecoder().decode(GlobalPinInfo.self, from: JSONEncoder().encode(global)) == global)
        #expect(global.name == "n" && info.allocations == [me])
        // A status name ipfs-cluster does not have is refused.
        let bad = Data(#"{"peername":"p","status":"pinnned"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PinInfoShort.self, from: bad) }
        // So is a time that is not RFC 3339; Go's zero time reads as unset.
        let badTime = Data(#"{"peername":"p","status":"pinned","timestamp":"yesterday"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PinInfoShort.self, from: badTime) }
        let zero = Data(#"{"peername":"p","status":"pinned","timestamp":"0001-01-01T00:00:00Z"}"#.utf8)
        #expect(try JSONDecoder().decode(PinInfoShort.self, from: zero).timestamp == Timestamp(unixMillis: 0))
    }
}
