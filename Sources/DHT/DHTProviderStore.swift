public import Multiformats

/// Provider records this node keeps for others (ADD_PROVIDER) and answers with (GET_PROVIDERS):
/// per key (a multihash's bytes), the peers that said they have it, each with its addresses and
/// an expiry of ``validity`` (48 h, go-libp2p-kad-dht's ProvideValidity).
///
/// Bounded, with no scan per insert (a flood costs O(1) a record): at most ``maxRecords``
/// records in all, ``maxProvidersPerKey`` a key and ``maxAddresses`` addresses a record (about
/// 70 MB at the limits). A full key replaces its record that expires first; a full store
/// drops any one key to take a new record. ``expire(now:)`` (run by the shell every few
/// minutes) drops expired records. Time is monotonic and given by the caller.
public struct DHTProviderStore: Sendable {
    public struct Provider: Sendable, Equatable {
        public let peer: PeerID
        public var addresses: [Multiaddr]
        public var expires: Duration
    }

    public static let validity = Duration.seconds(48 * 3600)
    public static let maxAddresses = 8
    public let maxRecords: Int
    public let maxProvidersPerKey: Int
    private var records: [[UInt8]: [Provider]] = [:]
    public private(set) var recordCount = 0

    public init(maxRecords: Int = 200_000, maxProvidersPerKey: Int = 64) {
        self.maxRecords = maxRecords
        self.maxProvidersPerKey = maxProvidersPerKey
    }

    public var keyCount: Int { records.count }

    public mutating func add(key: [UInt8], peer: PeerID, addresses: [Multiaddr], now: Duration) {
        let expires = now + Self.validity
        let addresses = Array(addresses.prefix(Self.maxAddresses))
        if var list = records[key] {
            if let i = list.firstIndex(where: { $0.peer == peer }) {
                list[i].expires = expires
                if !addresses.isEmpty { list[i].addresses = addresses }
                records[key] = list
                return
            }
            if list.count >= maxProvidersPerKey, let oldest = list.indices.min(by: { list[$0].expires < list[$1].expires }) {
                list.remove(at: oldest)
                recordCount -= 1
            } else if recordCount >= maxRecords {
                dropAnyKey(except: key)
            }
            list.append(Provider(peer: peer, addresses: addresses, expires: expires))
            recordCount += 1
            records[key] = list
            return
        }
        if recordCount >= maxRecords { dropAnyKey(except: key) }
        records[key] = [Provider(peer: peer, addresses: addresses, expires: expires)]
        recordCount += 1
    }

    private mutating func dropAnyKey(except key: [UInt8]) {
        guard let victim = records.first(where: { $0.key != key })?.key else { return }
        recordCount -= records.removeValue(forKey: victim)?.count ?? 0
    }

    /// The unexpired providers of `key`.
    public func providers(of key: [UInt8], now: Duration) -> [Provider] {
        records[key]?.filter { $0.expires > now } ?? []
    }

    /// Drops every expired record.
    public mutating func expire(now: Duration) {
        for (k, list) in records {
            let live = list.filter { $0.expires > now }
            recordCount -= list.count - live.count
            records[k] = live.isEmpty ? nil : live
        }
    }
}
