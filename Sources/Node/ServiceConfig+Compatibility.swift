import ClusterModel
import Foundation

extension ServiceConfig {
    /// A key of an ipfs-cluster configuration that PinMesh reads but does not act on, and what
    /// PinMesh does instead. The daemon names each one in a startup warning.
    public struct IgnoredKey: Equatable, Sendable, CustomStringConvertible {
        /// The key's path in the file (`consensus.raft`, `cluster.connection_manager`).
        public let key: String
        public let instead: String
        public var description: String { "\(key): \(instead)" }
    }

    /// What reading a file found besides the configuration itself.
    public struct LoadNotes: Equatable, Sendable {
        /// Keys accepted from ipfs-cluster's configuration that change nothing here.
        public var ignored: [IgnoredKey] = []
        /// `cluster.id` and `cluster.private_key`: where ipfs-cluster before 0.11 kept the
        /// identity (today's files keep it in identity.json).
        public var legacyIdentity: (id: String, privateKey: String)?

        public static func == (a: LoadNotes, b: LoadNotes) -> Bool {
            a.ignored == b.ignored && a.legacyIdentity?.id == b.legacyIdentity?.id
                && a.legacyIdentity?.privateKey == b.legacyIdentity?.privateKey
        }
    }

    /// ipfs-cluster's keys (1.1.x and older) that PinMesh accepts without acting on them. A key
    /// at or under one of these paths is accepted; every other key the defaults lack is refused.
    static let acceptedForeignKeys: [(key: String, instead: String)] = [
        ("consensus.raft", "PinMesh has no leader: the pinset is shared by CRDT (consensus.crdt) whatever consensus the file names; bring a raft cluster's pins over with `ipfs-cluster-service state export` and `pinmesh state import`"),
        ("datastore", "the pinset is kept in SQLite (pinset.sqlite in the peer's directory), not badger, leveldb or pebble"),
        ("observations.tracing", "PinMesh has no tracing; it logs and exports Prometheus metrics (metrics.*)"),
        ("observations.metrics.reporting_interval", "metrics are read when Prometheus scrapes metrics.prometheus_endpoint"),
        ("cluster.connection_manager", "a cluster keeps a connection to each of its peers; the embedded IPFS node trims its own connections by Swarm.ConnMgr in its config"),
        ("cluster.resource_manager", "PinMesh bounds connections, streams and queues with fixed limits (Specs/transport.md)"),
        ("cluster.pubsub", "PinMesh's pubsub uses its own parameters (Specs/pubsub.md)"),
        ("cluster.enable_relay_hop", "PinMesh peers dial each other directly; they do not relay"),
        ("cluster.mdns_interval", "PinMesh does not discover peers by mDNS; they join through peer_addresses or --bootstrap"),
        ("cluster.announce_multiaddress", "a peer tells others the addresses it listens on (cluster.listen_multiaddress)"),
        ("cluster.no_announce_multiaddress", "a peer tells others the addresses it listens on (cluster.listen_multiaddress)"),
        ("cluster.peerstore_file", "peers' addresses are learnt from peer_addresses and from the peers themselves, not kept in a file"),
        ("consensus.crdt.rebroadcast_interval", "a peer re-announces its pinset heads on its own schedule (Specs/pinset-crdt.md)"),
        ("consensus.crdt.peerset_metric", "the peerset is every peer that publishes the ping metric"),
        ("consensus.crdt.datastore_namespace", "the pinset has a database of its own"),
        ("pin_tracker.stateless.max_pin_queue_size", "pins wait in the pinset's queue, bounded by consensus.crdt.batching.max_queue_size"),
        ("monitor.monbasic", "PinMesh's monitor is monitor.pubsubmon"),
        ("api.restapi.libp2p_listen_multiaddress", "the REST API is served over HTTP(S) only, not over libp2p"),
        ("api.restapi.id", "the REST API is served over HTTP(S) only, not over libp2p"),
        ("api.restapi.private_key", "the REST API is served over HTTP(S) only, not over libp2p"),
        ("api.pinsvcapi.libp2p_listen_multiaddress", "the Pinning Service API is served over HTTP(S) only, not over libp2p"),
        ("api.pinsvcapi.id", "the Pinning Service API is served over HTTP(S) only, not over libp2p"),
        ("api.pinsvcapi.private_key", "the Pinning Service API is served over HTTP(S) only, not over libp2p"),
        ("source", "a follower's configuration is not fetched from its source URL; this file is used as it is"),
    ]

    /// ipfs-cluster's keys PinMesh accepts only at the value that changes nothing, since running
    /// on without their behaviour would surprise: the key and the value it may have.
    static let refusedUnlessOff: [(key: String, off: Bool, why: String)] = [
        ("cluster.follower_mode", false, "follower mode is not built yet; run this peer as a full peer (false) or keep using ipfs-cluster-follow"),
        ("cluster.pin_only_on_untrusted_peers", false, "allocating only to untrusted peers (follower clusters) is not built yet"),
        ("ipfs_connector.ipfshttp.unpin_disable", false, "PinMesh always unpins from IPFS what the cluster unpins; set false"),
    ]

    /// Rewrites the parts of an ipfs-cluster file that mean something PinMesh says otherwise,
    /// before it is laid over the defaults: `observations.metrics` becomes `metrics`,
    /// `cluster.replication_factor` (before 0.10) sets both factors, batching size 0 (ipfs-cluster's
    /// "batching off") is one write per delta, and a file that names the IPFS daemon's
    /// `node_multiaddress` without PinMesh's own `embedded` key means that daemon (kubo).
    static func translate(_ file: inout [String: Any], notes: inout LoadNotes) throws {
        if var cluster = file["cluster"] as? [String: Any] {
            if let factor = cluster.removeValue(forKey: "replication_factor") {
                if cluster["replication_factor_min"] == nil { cluster["replication_factor_min"] = factor }
                if cluster["replication_factor_max"] == nil { cluster["replication_factor_max"] = factor }
            }
            let id = cluster.removeValue(forKey: "id") as? String
            if let key = cluster.removeValue(forKey: "private_key") as? String { notes.legacyIdentity = (id ?? "", key) }
            file["cluster"] = cluster
        }
        if var observations = file.removeValue(forKey: "observations") as? [String: Any] {
            if var metrics = observations.removeValue(forKey: "metrics") as? [String: Any] {
                if metrics.removeValue(forKey: "reporting_interval") != nil {
                    notes.ignored.append(ignored("observations.metrics.reporting_interval"))
                }
                var own = file["metrics"] as? [String: Any] ?? [:]
                for (k, v) in metrics where own[k] == nil { own[k] = v }
                file["metrics"] = own
            }
            if observations.removeValue(forKey: "tracing") != nil { notes.ignored.append(ignored("observations.tracing")) }
            for k in observations.keys.sorted() {
                throw ConfigError(key: "observations.\(k)", problem: "unknown key; observations has metrics and tracing")
            }
        }
        if var consensus = file["consensus"] as? [String: Any], var crdt = consensus["crdt"] as? [String: Any],
            var batching = crdt["batching"] as? [String: Any], (batching["max_batch_size"] as? NSNumber)?.intValue == 0
        {
            batching["max_batch_size"] = 1
            batching["max_batch_age"] = "0s"
            crdt["batching"] = batching
            consensus["crdt"] = crdt
            file["consensus"] = consensus
        }
        if var connector = file["ipfs_connector"] as? [String: Any], var http = connector["ipfshttp"] as? [String: Any],
            http["node_multiaddress"] != nil, http["embedded"] == nil
        {
            http["embedded"] = false
            connector["ipfshttp"] = http
            file["ipfs_connector"] = connector
        }
    }

    static func ignored(_ key: String) -> IgnoredKey {
        IgnoredKey(key: key, instead: acceptedForeignKeys.first { $0.key == key }?.instead ?? "not used by PinMesh")
    }

    /// Whether `key` (absent from the defaults) is one of ipfs-cluster's that PinMesh accepts;
    /// records it. Throws for the keys accepted only when off, at another value.
    static func acceptForeign(_ key: String, value: Any, notes: inout LoadNotes) throws -> Bool {
        if let rule = refusedUnlessOff.first(where: { $0.key == key }) {
            guard let flag = value as? Bool, flag == rule.off else { throw ConfigError(key: key, problem: rule.why) }
            return true
        }
        guard let rule = acceptedForeignKeys.first(where: { key == $0.key || key.hasPrefix($0.key + ".") }) else { return false }
        if !notes.ignored.contains(where: { $0.key == rule.key }) { notes.ignored.append(IgnoredKey(key: rule.key, instead: rule.instead)) }
        return true
    }

    /// The metric TTLs a file leaves at their defaults follow the ping interval it sets: three
    /// intervals, as PinMesh's own defaults are (1 s pings, 3 s TTLs). Without this a file that
    /// lengthens the ping interval fails the check that a metric outlives its interval.
    static func deriveTTLs(_ tree: inout [String: Any], set: Set<String>) {
        guard set.contains("cluster.monitor_ping_interval"),
            let text = (tree["cluster"] as? [String: Any])?["monitor_ping_interval"] as? String,
            let ping = GoDuration.parse(text), ping > .zero
        else { return }
        var informer = tree["informer"] as? [String: Any] ?? [:]
        for name in ["disk", "tags", "pinqueue", "numpin"] where !set.contains("informer.\(name).metric_ttl") {
            var section = informer[name] as? [String: Any] ?? [:]
            section["metric_ttl"] = GoDuration.format(ping * 3)
            informer[name] = section
        }
        tree["informer"] = informer
    }
}
