public import ClusterModel

/// The spec's pin status, from the cluster's per-peer statuses (`Specs/pinning-service.md`,
/// "Statuses"). Only the peers that should hold the pin count (its allocations, or every peer
/// for a pin everywhere):
/// - `pinned`: at least `needed` of them report `pinned`, where `needed` is the pin's
///   replication minimum (at least 1, at most the number of allocations; 1 for a pin everywhere);
/// - `pinning`: otherwise, any of them reports `pinning`, or some (too few) report `pinned`;
/// - `queued`: otherwise, any reports `pin_queued`, `unpinned`, `undefined` or nothing yet;
/// - `failed`: every one reports an error (`pin_error`, `cluster_error`, `unexpectedly_unpinned`, …).
public enum PSAStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case queued, pinning, pinned, failed

    /// The status of `pin` from `info` (every peer's view), and a one-line summary for `info`.
    public static func of(_ pin: Pin, _ info: GlobalPinInfo) -> (status: PSAStatus, details: String) {
        let everywhere = pin.allocations.isEmpty
        let holders = everywhere ? Set(info.peerMap.keys) : Set(pin.allocations.map(\.description))
        let shorts = holders.sorted().map { info.peerMap[$0] }
        let pinned = shorts.count { $0?.status == .pinned }
        let needed = everywhere ? 1 : max(1, min(pin.options.replicationFactorMin, holders.count))
        let summary = "pinned on \(pinned) of \(holders.count) \(everywhere ? "peers" : "allocated peers")"
        if pinned >= needed { return (.pinned, summary) }
        if pinned > 0 || shorts.contains(where: { $0?.status == .pinning }) { return (.pinning, summary) }
        let waiting: Set<TrackerStatus> = [.pinQueued, .unpinned, .undefined, .remote]
        if shorts.isEmpty || shorts.contains(where: { $0 == nil || waiting.contains($0!.status) }) { return (.queued, summary) }
        let firstError = shorts.compactMap { $0 }.first { !$0.error.isEmpty }
        return (.failed, summary + (firstError.map { "; \($0.peername): \($0.error)" } ?? ""))
    }
}
