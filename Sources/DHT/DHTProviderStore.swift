public import Multiformats

/// Provider records this node keeps for others (ADD_PROVIDER) and answers with (GET_PROVIDERS):
/// per key (a multihash's bytes), the peers that said they have it, each with its addresses and
/// an expiry of ``validity`` (48 h, go-libp2p-kad-dht's ProvideValidity).
///
/// Bounded: at most ``maxKeys`` keys and ``maxProvidersPerKey`` providers a key; when full,
/// a key's record that expires first is replaced, and a new key replaces an expired one or
/// any one. Time is monotonic and given by the caller.
public struct DHTProviderStore: Sendable {
    public struct Provider: Sendable, Equatable {
        public let peer: PeerID
        public var addresses: [Multiaddr]
        public var expires: Duration
    }

    public static let validity = Duration.seconds(48 * 3600)
    public let maxKeys: Int
    public let maxProvidersPerKey: Int
    private var records: [[UInt8]: [Provider]] = [:]

    public init(maxKeys: Int = 100_000, maxProvidersPerKey: Int = 64) {
        self.maxKeys = maxKeys
        self.maxProvidersPerKey = maxProvidersPerKey
    }

    public var keyCount: Int { records.count }

    public mutating func add(key: [UInt8], peer: PeerID, addresses: [Multiaddr], now: Duration) {
        let expires = now + Self.validity
        if var list = records[key] {
            list.removeAll { $0.expires <= now }
            if let i = list.firstIndex(where: { $0.peer == peer }) {
                list[i].expires = expires
                if !addresses.isEmpty { list[i].addresses = addresses }
            } else {
                if list.count >= maxProvidersPerKey, let oldest = list.indices.min(by: { list[$0].expires < list[$1].expires }) {
                    list.remove(at: oldest)
                }
                list.append(Provider(peer: peer, addresses: addresses, expires: expires))
            }
            records[key] = list
            return
        }
        if records.count >= maxKeys { evictOne(now: now) }
        records[key] = [Provider(peer: peer, addresses: addresses, expires: expires)]
    }

    /// The unexpired providers of `key`.
    public func providers(of key: [UInt8], now: Duration) -> [Provider] {
        records[key]?.filter { $0.expires > now } ?? []
    }

    /// Drops every expired record.
    public mutating func expire(now: Duration) {
        for (k, list) in records {
            let live = list.filter { $0.expires > now }
            records[k] = live.isEmpty ? nil : live
        }
    }

    private mutating func evictOne(now: Duration) {
        // Cheap under a flood: drop expired records once, then any one key (not a scan a call).
        if let k = records.first(where: { $0.value.allSatisfy { $0.expires <= now } })?.key ?? records.first?.key {
            records.removeValue(forKey: k)
        }
    }
}
