import ClusterModel
import Datastore
import Multiformats
import PinTracker

/// Make before break. A pin that moves away from this peer (it stays in the pinset, allocated
/// to other peers: a dead peer's pins re-allocated, a pin update with new allocations) is not
/// unpinned here at once: this peer keeps it until enough of the new allocations report it
/// pinned (``ClusterPeer/handoverDone(_:)``), then hands the change to the tracker, which
/// unpins. Without this, pins moved to peers that cannot fetch them yet (cut off by a
/// partition) were dropped by the only peers that had the content, and after the heal the
/// content was pinned nowhere (`Specs/chaos-harness.md`).
///
/// Bounded: at most `maxHeld` pins are held (beyond that a move unpins at once, as before),
/// and each check looks at the `perCheck` longest held. Held pins live in memory only: after
/// a restart, a pin that moved away while this peer was down stays pinned in its IPFS daemon
/// (no longer this peer's; garbage collection keeps it, as any pin the daemon holds).
actor PinHandovers {
    static let maxHeld = 10_000
    static let perCheck = 64

    private let database: PinsetDatabase
    private let me: PeerID
    /// Held pins and since when.
    private var held: [CID: ContinuousClock.Instant] = [:]
    /// How many pins were held and later handed over (released to the tracker once moved).
    private(set) var handedOver = 0

    init(database: PinsetDatabase, me: PeerID) {
        self.database = database
        self.me = me
    }

    var count: Int { held.count }

    /// Of the changed keys, those the tracker acts on now; the others (moved away from here,
    /// still pinned in the cluster) are held until their new holders have them.
    func route(_ keys: [CID]) -> [CID] {
        // One read transaction for the batch (a catch-up delivers keys by the thousand).
        let pins = (try? database.read { store in keys.map { try? store.elements(of: $0).first?.pin } }) ?? keys.map { _ in nil }
        var now: [CID] = []
        for (cid, pin) in zip(keys, pins) {
            // Unpinned, allocated here (again), or unreadable: the tracker decides, as before.
            guard let pin, pin.type != .meta, !PinTrackerInstance.isAllocated(pin, to: me) else {
                held[cid] = nil
                now.append(cid)
                continue
            }
            if held[cid] == nil {
                guard held.count < Self.maxHeld else {
                    now.append(cid)
                    continue
                }
                held[cid] = .now
            }
        }
        return now
    }

    /// The held keys that are not among `pinned` (the daemon's recursive pins): nothing to
    /// hold for them (every change of a pin allocated elsewhere is routed here first).
    func keys(notIn pinned: Set<[UInt8]>) -> [CID] {
        held.keys.filter { !pinned.contains($0.bytes) }
    }

    /// The held pins to check now: the `perCheck` held longest.
    func due() -> [CID] {
        held.sorted { $0.value < $1.value }.prefix(Self.perCheck).map(\.key)
    }

    /// Stops holding `cid` (handed to the tracker); false when it was not held (a change in
    /// between decided already).
    func release(_ cid: CID, handedOver moved: Bool) -> Bool {
        guard held.removeValue(forKey: cid) != nil else { return false }
        if moved { handedOver += 1 }
        return true
    }
}
