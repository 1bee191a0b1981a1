public import Multiformats

/// How this node answers a DHT request (go-libp2p-kad-dht's handlers), pure: the table and the
/// provider store are the caller's.
///
/// - FIND_NODE: the `k` closest peers to the key that are in the table (with their addresses),
///   never the asker.
/// - GET_PROVIDERS: the providers this node knows for the key (a multihash), itself when
///   `hasLocally` says so, and the closer peers.
/// - ADD_PROVIDER: kept only for the sender itself (a peer cannot announce another), with the
///   addresses it gave; no answer.
/// - PING: echoed. PUT_VALUE and GET_VALUE (IPNS records) are not served: nil, and the shell
///   closes the stream.
public enum DHTServer {
    public struct Context {
        public var table: DHTRoutingTable
        public var store: DHTProviderStore
        public var now: Duration
        public var selfPeer: DHTMessage.Peer
        public init(table: DHTRoutingTable, store: DHTProviderStore, now: Duration, selfPeer: DHTMessage.Peer) {
            self.table = table
            self.store = store
            self.now = now
            self.selfPeer = selfPeer
        }
    }

    public static func respond(to m: DHTMessage, from sender: PeerID, context c: inout Context, hasLocally: ([UInt8]) -> Bool) -> DHTMessage? {
        func closer(_ key: [UInt8]) -> [DHTMessage.Peer] {
            c.table.closest(to: DHTKey(hashing: key), count: c.table.bucketSize + 1)
                .filter { $0.peer != sender }
                .prefix(c.table.bucketSize)
                .map { DHTMessage.Peer(id: $0.peer, addresses: $0.addresses) }
        }
        switch m.type {
        case .ping:
            return DHTMessage(type: .ping)
        case .findNode:
            return DHTMessage(type: .findNode, key: m.key, closerPeers: closer(m.key), clusterLevel: m.clusterLevel)
        case .getProviders:
            guard (try? Multihash(bytes: m.key)) != nil else { return nil }
            var providers = c.store.providers(of: m.key, now: c.now).map { DHTMessage.Peer(id: $0.peer, addresses: $0.addresses) }
            if hasLocally(m.key) { providers.insert(c.selfPeer, at: 0) }
            return DHTMessage(type: .getProviders, key: m.key, closerPeers: closer(m.key), providerPeers: providers, clusterLevel: m.clusterLevel)
        case .addProvider:
            guard (try? Multihash(bytes: m.key)) != nil else { return nil }
            for p in m.providerPeers where p.id == sender && !p.addresses.isEmpty {
                c.store.add(key: m.key, peer: sender, addresses: p.addresses, now: c.now)
            }
            return nil
        case .putValue, .getValue:
            return nil
        }
    }
}
