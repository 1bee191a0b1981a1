public import Multiformats

/// One iterative Kademlia lookup, pure: the shell asks ``nextQueries()`` whom to ask, and
/// reports each answer (``onResponse(from:closer:providers:)``) or failure (``onFailure(_:)``).
///
/// - At most `alpha` (3) queries in flight; the closest candidate not yet asked goes first.
/// - It ends when enough providers are known (a provider lookup), or when the `k` closest
///   peers that did not fail have all answered, or when nobody is left to ask.
/// - Bounded: at most ``maxCandidates`` peers are remembered (the farthest are dropped).
public struct DHTLookup: Sendable {
    public enum Goal: Sendable, Equatable {
        /// FIND_NODE: the `k` closest peers to the target.
        case closestPeers
        /// GET_PROVIDERS: stop once this many providers are known.
        case providers(enough: Int)
    }

    enum State: Sendable, Equatable { case waiting, querying, answered, failed }

    struct Candidate: Sendable {
        let key: DHTKey
        var state: State
        var addresses: [Multiaddr]
    }

    public static let maxCandidates = 512

    public let target: DHTKey
    public let goal: Goal
    public let alpha: Int
    public let k: Int
    public let local: PeerID
    private var candidates: [PeerID: Candidate] = [:]
    public private(set) var providers: [DHTMessage.Peer] = []
    public private(set) var queriesSent = 0

    public init(target: DHTKey, goal: Goal, local: PeerID, seeds: [(PeerID, [Multiaddr])], alpha: Int = 3, k: Int = 20) {
        self.target = target
        self.goal = goal
        self.alpha = alpha
        self.k = k
        self.local = local
        for (p, a) in seeds { learn(p, a) }
    }

    private mutating func learn(_ peer: PeerID, _ addresses: [Multiaddr]) {
        guard peer != local else { return }
        if var c = candidates[peer] {
            if c.addresses.isEmpty && !addresses.isEmpty {
                c.addresses = addresses
                candidates[peer] = c
            }
            return
        }
        candidates[peer] = Candidate(key: DHTKey(peer: peer), state: .waiting, addresses: addresses)
        if candidates.count > Self.maxCandidates {
            // Drop the farthest peer that is not being asked.
            if let far = candidates.filter({ $0.value.state != .querying }).max(by: { target.isCloser($0.value.key, than: $1.value.key) }) {
                candidates.removeValue(forKey: far.key)
            }
        }
    }

    private var sorted: [(PeerID, Candidate)] {
        candidates.map { ($0.key, $0.value) }.sorted { target.isCloser($0.1.key, than: $1.1.key) }
    }

    public var inFlight: Int { candidates.values.filter { $0.state == .querying }.count }

    /// The known addresses of a candidate (for the shell to dial).
    public func addresses(of peer: PeerID) -> [Multiaddr] { candidates[peer]?.addresses ?? [] }

    public var isFinished: Bool {
        if case .providers(let enough) = goal, providers.count >= enough { return true }
        let live = sorted.filter { $0.1.state != .failed }
        let closest = live.prefix(k)
        if closest.allSatisfy({ $0.1.state == .answered }) { return true }
        return !live.contains { $0.1.state == .waiting } && inFlight == 0
    }

    /// The peers to ask now (marked as being asked), closest first, up to `alpha` in flight.
    public mutating func nextQueries() -> [PeerID] {
        guard !isFinished else { return [] }
        var out: [PeerID] = []
        var flying = inFlight
        // Only peers among the k closest live candidates are worth asking.
        for (p, c) in sorted.filter({ $0.1.state != .failed }).prefix(k) where flying < alpha && c.state == .waiting {
            candidates[p]?.state = .querying
            out.append(p)
            flying += 1
        }
        queriesSent += out.count
        return out
    }

    public mutating func onResponse(from peer: PeerID, closer: [DHTMessage.Peer], providers found: [DHTMessage.Peer]) {
        guard candidates[peer] != nil else { return }
        candidates[peer]?.state = .answered
        for p in closer { learn(p.id, p.addresses) }
        for p in found where !providers.contains(where: { $0.id == p.id }) { providers.append(p) }
    }

    public mutating func onFailure(_ peer: PeerID) {
        guard candidates[peer] != nil else { return }
        candidates[peer]?.state = .failed
    }

    /// The closest peers that answered (FIND_NODE's result), closest first.
    public func closestAnswered() -> [(PeerID, [Multiaddr])] {
        sorted.filter { $0.1.state == .answered }.prefix(k).map { ($0.0, $0.1.addresses) }
    }
}
