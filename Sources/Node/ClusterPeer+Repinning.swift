import Allocator
import ClusterModel
public import Multiformats
import PeerMonitor
import PinTracker

/// Moving a dead peer's pins (who acts, when, only with a majority: `Specs/monitoring.md`,
/// "Repinning") and holding moved pins until their new holders have them (``PinHandovers``).
extension ClusterPeer {
    // MARK: repinning

    func peerAlerted(_ peer: PeerID) {
        guard peer != me else { return }
        downPeers.alerted(peer, at: .now)
    }

    func checkDownPeers() async {
        for p in downPeers.missingPeers where await monitor.isAlive(p) { downPeers.alive(p) }
        // Peers holding allocations that this peer never heard from (they died before it
        // joined, or while the whole cluster was down) count as missing from now; only once
        // this peer had time to hear every live peer's pings.
        if let started = startedAt, ContinuousClock.now - started > PeerMonitor.pingTTL(interval: settings.monitor.pingInterval) * 2,
            let holders = try? database.peersWithAllocations()
        {
            for p in holders where p != me && !downPeers.missingPeers.contains(p) {
                if await !monitor.isAlive(p) { downPeers.alerted(p, at: .now) }
            }
        }
        guard !settings.disableRepinning else { return }
        let retry = repinAgain
        repinAgain = []
        let due = Set(downPeers.due(at: .now)).union(retry)
        guard !due.isEmpty else { return }
        // Only a peer that sees most of the cluster moves pins (Allocator.seesMajority): one cut
        // off by a partition would move them onto the few peers it reaches. Until it sees a
        // majority again, the dead stay due.
        let live = Set(await monitor.peers().filter { settings.trust.trusts($0) }).union([me])
        let holders = Set((try? database.peersWithAllocations()) ?? [])
        removedPeers.subtract(live)
        let missingHolders = Set(downPeers.missingPeers).intersection(holders).subtracting(live).subtracting(removedPeers)
        guard seesMajority(live: live, missingHolders: missingHolders) else {
            if !minorityLogged {
                logger.warning(
                    "not moving the pins of peers that seem down: this peer sees only \(live.count) of \(live.count + missingHolders.count) peers (cut off by a partition?); they move once it sees a majority, or remove dead peers with pinmeshctl peers rm",
                    metadata: ["down": "\(missingHolders.sorted())"])
                minorityLogged = true
            }
            repinsHeldForMinority += 1
            repinAgain = due
            return
        }
        minorityLogged = false
        for dead in due.sorted() {
            // A peer that came back keeps its pins.
            if await monitor.isAlive(dead) { continue }
            await repin(away: dead, retry: retry.contains(dead))
        }
    }

    /// Re-allocates the pins allocated to `dead` for which this peer is responsible
    /// (rendezvous hashing over the live trusted peers; every peer computes the same owner).
    func repin(away dead: PeerID, retry: Bool = false) async {
        let keys: [CID]
        do {
            keys = try database.keys(allocatedTo: dead)
        } catch {
            logger.error("cannot read the allocation index", metadata: ["error": "\(error)"])
            return
        }
        let live = await monitor.peers().filter { $0 != dead && settings.trust.trusts($0) }
        var moved: [(pin: Pin, basis: [CID])] = []
        var failed: (count: Int, first: String) = (0, "")
        for cid in keys where responsiblePeer(for: cid, among: live) == me {
            // The value and the elements it comes from, read together: the re-allocation
            // applies to those elements only (a user's update meanwhile is not overwritten).
            guard let elements = try? database.read({ try $0.elements(of: cid) }), var pin = elements.first?.pin,
                pin.allocations.contains(dead)
            else { continue }
            do {
                pin.allocations = try await allocate(
                    cid, min: pin.options.replicationFactorMin, max: pin.options.replicationFactorMax, current: pin.allocations,
                    user: pin.options.userAllocations, excluding: [dead])
            } catch {
                if failed.count == 0 { failed.first = "\(error)" }
                failed.count += 1
                continue
            }
            moved.append((pin, elements.map(\.id)))
        }
        if failed.count > 0 {
            // Retried at every check until the peer returns or enough peers are live.
            if !retry { logger.warning("cannot re-allocate some of a dead peer's pins yet; retrying", metadata: ["dead": "\(dead)", "pins": "\(failed.count)", "error": "\(failed.first)"]) }
            repinAgain.insert(dead)
        }
        guard !moved.isEmpty else { return }
        do {
            // A re-allocation, not a pin: an unpin made concurrently anywhere (also on the other
            // side of a partition) still removes the pin.
            try await pinset.reallocate(moved)
            repinned += moved.count
            logger.info("re-allocated a dead peer's pins", metadata: ["dead": "\(dead)", "pins": "\(moved.count)"])
        } catch {
            logger.error("cannot commit re-allocated pins; retrying", metadata: ["error": "\(error)"])
            repinAgain.insert(dead)
        }
    }

    /// `peers rm`: the peer counts no more for the majority rule and its pins move at the next
    /// check, whatever the repinning delay.
    func removedFromPeerset(_ peer: PeerID) {
        removedPeers.insert(peer)
        downPeers.alerted(peer, at: .now)
        repinAgain.insert(peer)
    }

    // MARK: handovers

    /// Hands held pins to the tracker (which unpins them) once their new holders have them,
    /// or once there is nothing to hold: unpinned meanwhile, or not pinned in this daemon.
    func checkHandovers() async {
        defer { handoverChecks += 1 }
        guard await handovers.count > 0 else { return }
        // Most held keys are pins this peer never had (every change of a pin allocated
        // elsewhere comes here first): one listing of the daemon's pins releases them all.
        if let local = try? await tracker.pinnedSet() {
            var released: [CID] = []
            for cid in await handovers.keys(notIn: local) where await handovers.release(cid, handedOver: false) { released.append(cid) }
            if !released.isEmpty { await tracker.changed(released) }
        }
        for cid in await handovers.due() {
            var moved = true
            if let pin = try? database.pin(cid), !PinTrackerInstance.isAllocated(pin, to: me) {
                let local = try? await connector.pinStatus(cid)
                let holding: Bool
                if let local, case .indirect = local.type { holding = false } else { holding = local != nil }
                if holding {
                    guard await handoverDone(pin) else { continue }
                } else {
                    moved = false
                }
            }
            if await handovers.release(cid, handedOver: moved) { await tracker.changed([cid]) }
        }
    }

    /// Whether enough of `pin`'s allocations report it pinned for this peer to let go: its
    /// minimum replication (all of them when it has none), at least one.
    func handoverDone(_ pin: Pin) async -> Bool {
        let g = await status(pin.cid)
        let pinned = Set(pin.allocations).filter { g.peerMap[$0.description]?.status == .pinned }.count
        let rmin = pin.options.replicationFactorMin
        let need = rmin > 0 ? min(rmin, pin.allocations.count) : pin.allocations.count
        return pinned >= max(1, need)
    }

    /// Pins moved away from here and still held (a metric and for tests).
    public var heldForHandover: Int { get async { await handovers.count } }
    /// Pins held and later handed over once their new holders had them.
    public var handedOver: Int { get async { await handovers.handedOver } }
}
