import ClusterModel
public import Foundation
import Multiformats

/// `service.json`: the peer's configuration, in ipfs-cluster's sections and key names where
/// they exist (cluster, consensus.crdt, api.restapi, ipfs_connector.ipfshttp,
/// pin_tracker.stateless, monitor.pubsubmon, allocator.balanced, informer.*), plus PinMesh's
/// own (`metrics`). Every key has a default (``defaults(peername:secret:)``, documented in
/// `Specs/configuration.md`); a file may name only the keys it changes. Durations are Go's
/// ("30s", "1m0s"). Environment variables `PINMESH_<SECTION>_<KEY>` override the file.
public struct ServiceConfig: Codable, Equatable, Sendable {
    public struct Cluster: Codable, Equatable, Sendable {
        public var peername: String
        /// 32 bytes, hex: the cluster secret every peer of the cluster holds.
        public var secret: String
        public var leaveOnShutdown: Bool
        public var listenMultiaddress: [String]
        public var dialPeerTimeout: String
        public var stateSyncInterval: String
        public var pinRecoverInterval: String
        public var replicationFactorMin: Int
        public var replicationFactorMax: Int
        public var monitorPingInterval: String
        public var peerWatchInterval: String
        public var pinOnlyOnTrustedPeers: Bool
        public var disableRepinning: Bool
        /// How long a peer stays down before its pins are re-allocated (hysteresis: a peer that
        /// flaps back within it causes no churn).
        public var repinningDelay: String
        public var peerAddresses: [String]
    }

    public struct CRDT: Codable, Equatable, Sendable {
        public struct Batching: Codable, Equatable, Sendable {
            public var maxBatchSize: Int
            public var maxBatchAge: String
            public var maxQueueSize: Int
        }
        public var clusterName: String
        public var trustedPeers: [String]
        public var batching: Batching
        public var repairInterval: String
    }

    public struct Consensus: Codable, Equatable, Sendable { public var crdt: CRDT }

    public struct RESTAPI: Codable, Equatable, Sendable {
        /// One address or several (ipfs-cluster writes one as a string, several as a list).
        public var httpListenMultiaddress: [String]
        public var readTimeout: String
        public var readHeaderTimeout: String
        public var writeTimeout: String
        public var idleTimeout: String
        public var maxHeaderBytes: Int
        public var basicAuthCredentials: [String: String]?
        public var httpLogFile: String
        public var headers: [String: [String]]
        public var corsAllowedOrigins: [String]
        public var corsAllowedMethods: [String]
        public var corsAllowedHeaders: [String]
        public var corsExposedHeaders: [String]
        public var corsAllowCredentials: Bool
        public var corsMaxAge: String
        /// How long a token from `POST /token` stays valid.
        public var tokenTtl: String
        /// PEM certificate chain and private key (relative paths: in the config folder); when
        /// set, the API is served over HTTPS only.
        public var sslCertFile: String
        public var sslKeyFile: String
    }

    public struct IPFSHTTP: Codable, Equatable, Sendable {
        /// kubo's API (`/ip4/127.0.0.1/tcp/5001`) or the embedded node's (the default).
        public var nodeMultiaddress: String
        /// Run the embedded node at `node_multiaddress` (false: an external daemon runs there).
        public var embedded: Bool
        public var connectSwarmsDelay: String
        public var ipfsRequestTimeout: String
        /// A pin is cancelled after this long without progress (not in total).
        public var pinTimeout: String
        public var unpinTimeout: String
        public var repogcTimeout: String
        public var informerTriggerInterval: Int
    }

    public struct IPFSConnectorSection: Codable, Equatable, Sendable { public var ipfshttp: IPFSHTTP }

    public struct Stateless: Codable, Equatable, Sendable {
        public var concurrentPins: Int
        public var priorityPinMaxAge: String
        public var priorityPinMaxRetries: Int
    }

    public struct PinTracker: Codable, Equatable, Sendable { public var stateless: Stateless }

    public struct PubSubMon: Codable, Equatable, Sendable { public var checkInterval: String }

    public struct Monitor: Codable, Equatable, Sendable { public var pubsubmon: PubSubMon }

    public struct Balanced: Codable, Equatable, Sendable { public var allocateBy: [String] }

    public struct Allocator: Codable, Equatable, Sendable { public var balanced: Balanced }

    public struct MetricInformer: Codable, Equatable, Sendable { public var metricTtl: String }

    public struct DiskInformer: Codable, Equatable, Sendable {
        public var metricTtl: String
        public var metricType: String
    }

    public struct TagsInformer: Codable, Equatable, Sendable {
        public var metricTtl: String
        public var tags: [String: String]
    }

    public struct PinQueueInformer: Codable, Equatable, Sendable {
        public var metricTtl: String
        public var weightBucketSize: Int
    }

    public struct Informer: Codable, Equatable, Sendable {
        public var disk: DiskInformer
        public var tags: TagsInformer
        public var pinqueue: PinQueueInformer
        public var numpin: MetricInformer
    }

    public struct Metrics: Codable, Equatable, Sendable {
        public var enableStats: Bool
        public var prometheusEndpoint: String
    }

    public var cluster: Cluster
    public var consensus: Consensus
    public var api: API
    public var ipfsConnector: IPFSConnectorSection
    public var pinTracker: PinTracker
    public var monitor: Monitor
    public var allocator: Allocator
    public var informer: Informer
    public var metrics: Metrics

    /// Every default. The monitor's are sized to notice a dead peer within 5 s: pings every
    /// second, each valid for 3 s, checked every second.
    public static func defaults(peername: String, secret: String) -> ServiceConfig {
        ServiceConfig(
            cluster: Cluster(
                peername: peername, secret: secret, leaveOnShutdown: false,
                listenMultiaddress: ["/ip4/0.0.0.0/tcp/9096", "/ip4/0.0.0.0/udp/9096"],
                dialPeerTimeout: "3s", stateSyncInterval: "5m0s", pinRecoverInterval: "12m0s",
                replicationFactorMin: -1, replicationFactorMax: -1, monitorPingInterval: "1s",
                peerWatchInterval: "5s", pinOnlyOnTrustedPeers: false, disableRepinning: false,
                repinningDelay: "10s", peerAddresses: []),
            consensus: Consensus(
                crdt: CRDT(
                    clusterName: "pinmesh", trustedPeers: ["*"],
                    batching: .init(maxBatchSize: 1000, maxBatchAge: "5ms", maxQueueSize: 50_000),
                    repairInterval: "1h0m0s")),
            api: API(
                restapi: RESTAPI(
                    httpListenMultiaddress: ["/ip4/127.0.0.1/tcp/9094"], readTimeout: "0s", readHeaderTimeout: "5s",
                    writeTimeout: "0s", idleTimeout: "2m0s", maxHeaderBytes: 4096, basicAuthCredentials: nil,
                    httpLogFile: "", headers: [:], corsAllowedOrigins: ["*"], corsAllowedMethods: ["GET"],
                    corsAllowedHeaders: [], corsExposedHeaders: ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
                    corsAllowCredentials: true, corsMaxAge: "0s", tokenTtl: "24h0m0s", sslCertFile: "", sslKeyFile: ""),
                ipfsproxy: .defaults, pinsvcapi: .defaults),
            ipfsConnector: IPFSConnectorSection(
                ipfshttp: IPFSHTTP(
                    nodeMultiaddress: "/ip4/127.0.0.1/tcp/5091", embedded: true, connectSwarmsDelay: "30s",
                    ipfsRequestTimeout: "5m0s", pinTimeout: "2m0s", unpinTimeout: "3h0m0s", repogcTimeout: "24h0m0s",
                    informerTriggerInterval: 0)),
            pinTracker: PinTracker(stateless: Stateless(concurrentPins: 10, priorityPinMaxAge: "24h0m0s", priorityPinMaxRetries: 5)),
            monitor: Monitor(pubsubmon: PubSubMon(checkInterval: "1s")),
            allocator: Allocator(balanced: Balanced(allocateBy: ["tag:group", "freespace"])),
            informer: Informer(
                disk: DiskInformer(metricTtl: "3s", metricType: "freespace"),
                tags: TagsInformer(metricTtl: "3s", tags: ["group": "default"]),
                pinqueue: PinQueueInformer(metricTtl: "3s", weightBucketSize: 100_000),
                numpin: MetricInformer(metricTtl: "3s")),
            metrics: Metrics(enableStats: true, prometheusEndpoint: "/ip4/127.0.0.1/tcp/8888"))
    }

    /// Why a configuration was refused: the key and what to do.
    public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
        public let key: String
        public let problem: String
        public var description: String { "service.json: \(key): \(problem)" }

        public init(key: String, problem: String) {
            self.key = key
            self.problem = problem
        }
    }

    // MARK: reading

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The JSON text of this configuration (snake_case keys, sorted, indented).
    public func json() throws -> Data { try Self.encoder.encode(self) }

    /// The defaults as a JSON tree.
    static func defaultTree(peername: String, secret: String) -> [String: Any] {
        let data = try! Self.encoder.encode(defaults(peername: peername, secret: secret))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Reads `data` (a whole or partial `service.json`) over the defaults, applies the
    /// environment's `PINMESH_<SECTION>_<KEY>` overrides, and validates the result. A key the
    /// defaults do not have is refused (a typo would otherwise be silently ignored).
    public static func load(_ data: Data, environment: [String: String] = ProcessInfo.processInfo.environment, peername: String = "") throws -> ServiceConfig {
        try read(data, environment: environment, peername: peername).config
    }

    /// ``load(_:environment:peername:)``, and what it accepted from ipfs-cluster's keys
    /// without acting on it (for the daemon's startup warning).
    public static func read(
        _ data: Data, environment: [String: String] = ProcessInfo.processInfo.environment, peername: String = ""
    ) throws -> (config: ServiceConfig, notes: LoadNotes) {
        let file: Any
        do {
            file = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError(key: "(file)", problem: "not valid JSON: \(error.localizedDescription)")
        }
        guard var fileTree = file as? [String: Any] else { throw ConfigError(key: "(file)", problem: "must be a JSON object") }
        var notes = LoadNotes()
        try translate(&fileTree, notes: &notes)
        var tree = defaultTree(peername: peername, secret: "")
        var set = Set<String>()
        try merge(fileTree, into: &tree, path: "", notes: &notes, set: &set)
        try applyEnvironment(environment, to: &tree, set: &set)
        deriveTTLs(&tree, set: set)
        let config: ServiceConfig
        do {
            config = try decoder.decode(ServiceConfig.self, from: JSONSerialization.data(withJSONObject: tree))
        } catch let DecodingError.typeMismatch(type, context) {
            throw ConfigError(key: keyPath(context.codingPath), problem: "must be \(describe(type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw ConfigError(key: keyPath(context.codingPath), problem: "must be \(describe(type)), not null")
        } catch {
            throw ConfigError(key: "(file)", problem: "\(error)")
        }
        try config.validate()
        return (config, notes)
    }

    private static func keyPath(_ path: [any CodingKey]) -> String {
        path.map { k in k.intValue.map { "[\($0)]" } ?? snake(k.stringValue) }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func snake(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase {
                out += "_" + c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is [String].Type: "a list of strings"
        default: "\(type)"
        }
    }

    /// Overlays `file` on `tree` key by key; a key the defaults lack is an error, except inside
    /// the maps that hold user data (tags, headers, credentials).
    static func merge(_ file: [String: Any], into tree: inout [String: Any], path: String) throws {
        var notes = LoadNotes()
        var set = Set<String>()
        try merge(file, into: &tree, path: path, notes: &notes, set: &set)
    }

    /// ``merge(_:into:path:)`` that accepts ipfs-cluster's keys PinMesh does not act on
    /// (recorded in `notes`) and records in `set` every key the file gives a value.
    static func merge(_ file: [String: Any], into tree: inout [String: Any], path: String, notes: inout LoadNotes, set: inout Set<String>) throws {
        let freeForm = [
            "informer.tags.tags", "api.restapi.headers", "api.restapi.basic_auth_credentials", "api.pinsvcapi.headers",
            "api.pinsvcapi.basic_auth_credentials",
        ]
        for (k, v) in file {
            let key = path.isEmpty ? k : path + "." + k
            if freeForm.contains(key) {
                tree[k] = v
                set.insert(key)
                continue
            }
            guard let existing = tree[k] else {
                if try acceptForeign(key, value: v, notes: &notes) { continue }
                throw ConfigError(key: key, problem: "unknown key; see Specs/configuration.md for the keys of each section")
            }
            if existing is [Any], k.hasSuffix("multiaddress"), let one = v as? String {
                // ipfs-cluster's lists of addresses are written as one string when they hold one.
                tree[k] = one.isEmpty ? [] : [one]
                set.insert(key)
            } else if var sub = existing as? [String: Any], let fileSub = v as? [String: Any] {
                try merge(fileSub, into: &sub, path: key, notes: &notes, set: &set)
                tree[k] = sub
            } else {
                tree[k] = v
                set.insert(key)
            }
        }
    }

    /// The sections environment variables name, and where they are in the tree.
    static let environmentSections: [(String, [String])] = [
        ("CLUSTER", ["cluster"]), ("CRDT", ["consensus", "crdt"]), ("RESTAPI", ["api", "restapi"]),
        ("IPFSPROXY", ["api", "ipfsproxy"]), ("PINSVCAPI", ["api", "pinsvcapi"]),
        ("IPFSHTTP", ["ipfs_connector", "ipfshttp"]), ("STATELESS", ["pin_tracker", "stateless"]),
        ("PUBSUBMON", ["monitor", "pubsubmon"]), ("BALANCED", ["allocator", "balanced"]),
        ("DISK", ["informer", "disk"]), ("TAGS", ["informer", "tags"]), ("PINQUEUE", ["informer", "pinqueue"]),
        ("NUMPIN", ["informer", "numpin"]), ("METRICS", ["metrics"]),
    ]

    static func applyEnvironment(_ env: [String: String], to tree: inout [String: Any]) throws {
        var set = Set<String>()
        try applyEnvironment(env, to: &tree, set: &set)
    }

    /// `PINMESH_<SECTION>_<KEY>=value`: KEY is the JSON key in capitals, with or without its
    /// underscores (`PINMESH_CLUSTER_PEERNAME`, `PINMESH_CLUSTER_REPLICATION_FACTOR_MIN`).
    /// ipfs-cluster's names work too: `CLUSTER_<SECTION>_<KEY>` (`CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS`)
    /// and, for the cluster section, `CLUSTER_<KEY>` (`CLUSTER_SECRET`, `CLUSTER_PEERNAME`);
    /// a `PINMESH_` variable wins over a `CLUSTER_` one for the same key. Lists are
    /// comma-separated; maps are JSON; booleans as Go's ParseBool.
    static func applyEnvironment(_ env: [String: String], to tree: inout [String: Any], set: inout Set<String>) throws {
        // ipfs-cluster's names first, so PinMesh's own override them.
        let ordered = env.filter { $0.key.hasPrefix("CLUSTER_") }.sorted { $0.key < $1.key }
            + env.filter { $0.key.hasPrefix("PINMESH_") }.sorted { $0.key < $1.key }
        for (name, value) in ordered {
            let clusterName = name.hasPrefix("CLUSTER_")
            let rest = name.dropFirst(clusterName ? "CLUSTER_".count : "PINMESH_".count)
            let section: String
            let path: [String]
            if let match = environmentSections.first(where: { rest.hasPrefix($0.0 + "_") }) {
                (section, path) = match
            } else if clusterName {
                (section, path) = ("", ["cluster"])
            } else {
                continue
            }
            let wanted = rest.dropFirst(section.isEmpty ? 0 : section.count + 1).replacingOccurrences(of: "_", with: "")
            var node = tree
            for p in path { node = node[p] as? [String: Any] ?? [:] }
            // Keys whose default is null are absent from the defaults' JSON; name them too.
            let optional = section == "RESTAPI" || section == "PINSVCAPI" ? ["basic_auth_credentials"] : []
            guard let key = (Array(node.keys) + optional).first(where: { $0.replacingOccurrences(of: "_", with: "").uppercased() == wanted }) else {
                // PINMESH_PATH and the like are not configuration keys.
                continue
            }
            let keyPath = (path + [key]).joined(separator: ".")
            let parsed: Any
            // JSON booleans are NSNumbers of type "c"; 0 and 1 would also pass `is Bool`.
            let isBoolean = (node[key] as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
            switch node[key] {
            case _ where isBoolean:
                switch value {
                case "1", "t", "T", "true", "TRUE", "True": parsed = true
                case "0", "f", "F", "false", "FALSE", "False": parsed = false
                default: throw ConfigError(key: keyPath, problem: "\(name)=\(value.debugDescription) is not a boolean (true or false)")
                }
            case is NSNumber:
                guard let n = Int(value) else { throw ConfigError(key: keyPath, problem: "\(name)=\(value.debugDescription) is not an integer") }
                parsed = n
            case is [Any]:
                parsed = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            case is [String: Any], is NSNull, nil:
                guard let obj = try? JSONSerialization.jsonObject(with: Data(value.utf8)) else {
                    throw ConfigError(key: keyPath, problem: "\(name) must be JSON")
                }
                parsed = obj
            default:
                parsed = value
            }
            assign(&tree, path + [key], parsed)
            set.insert(keyPath)
        }
    }

    private static func assign(_ tree: inout [String: Any], _ path: [String], _ value: Any) {
        guard let first = path.first else { return }
        if path.count == 1 {
            tree[first] = value
            return
        }
        var sub = tree[first] as? [String: Any] ?? [:]
        assign(&sub, Array(path.dropFirst()), value)
        tree[first] = sub
    }

    // MARK: validation

    /// Checks every value; the error names the key and the fix.
    public func validate() throws {
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError(key: key, problem: problem) }
        func duration(_ key: String, _ value: String, positive: Bool = true) throws {
            guard let d = GoDuration.parse(value) else {
                throw fail(key, "\(value.debugDescription) is not a duration; write it as Go does, e.g. \"30s\" or \"1m0s\"")
            }
            if positive && d <= .zero { throw fail(key, "must be more than 0s") }
        }
        func multiaddr(_ key: String, _ value: String) throws {
            guard (try? Multiaddr(value)) != nil else {
                throw fail(key, "\(value.debugDescription) is not a multiaddr, e.g. /ip4/127.0.0.1/tcp/9094")
            }
        }
        let hex = Set("0123456789abcdefABCDEF")
        guard cluster.secret.count == 64, cluster.secret.allSatisfy(hex.contains) else {
            throw fail("cluster.secret", "must be 64 hex characters (32 bytes); every peer of a cluster needs the same one. Make one with `pinmesh init` or `openssl rand -hex 32`")
        }
        guard !cluster.peername.isEmpty else { throw fail("cluster.peername", "must not be empty") }
        guard !cluster.listenMultiaddress.isEmpty else { throw fail("cluster.listen_multiaddress", "needs at least one address, e.g. /ip4/0.0.0.0/tcp/9096") }
        for (i, a) in cluster.listenMultiaddress.enumerated() { try multiaddr("cluster.listen_multiaddress[\(i)]", a) }
        for (i, a) in cluster.peerAddresses.enumerated() { try multiaddr("cluster.peer_addresses[\(i)]", a) }
        for (k, v) in [
            ("cluster.dial_peer_timeout", cluster.dialPeerTimeout), ("cluster.state_sync_interval", cluster.stateSyncInterval),
            ("cluster.pin_recover_interval", cluster.pinRecoverInterval), ("cluster.monitor_ping_interval", cluster.monitorPingInterval),
            ("cluster.peer_watch_interval", cluster.peerWatchInterval), ("consensus.crdt.repair_interval", consensus.crdt.repairInterval),
            ("ipfs_connector.ipfshttp.ipfs_request_timeout", ipfsConnector.ipfshttp.ipfsRequestTimeout),
            ("ipfs_connector.ipfshttp.pin_timeout", ipfsConnector.ipfshttp.pinTimeout),
            ("ipfs_connector.ipfshttp.unpin_timeout", ipfsConnector.ipfshttp.unpinTimeout),
            ("ipfs_connector.ipfshttp.repogc_timeout", ipfsConnector.ipfshttp.repogcTimeout),
            ("pin_tracker.stateless.priority_pin_max_age", pinTracker.stateless.priorityPinMaxAge),
            ("monitor.pubsubmon.check_interval", monitor.pubsubmon.checkInterval),
            ("informer.disk.metric_ttl", informer.disk.metricTtl), ("informer.tags.metric_ttl", informer.tags.metricTtl),
            ("informer.pinqueue.metric_ttl", informer.pinqueue.metricTtl), ("informer.numpin.metric_ttl", informer.numpin.metricTtl),
            ("api.restapi.token_ttl", api.restapi.tokenTtl),
        ] { try duration(k, v) }
        for (k, v) in [
            ("cluster.repinning_delay", cluster.repinningDelay), ("consensus.crdt.batching.max_batch_age", consensus.crdt.batching.maxBatchAge),
            ("ipfs_connector.ipfshttp.connect_swarms_delay", ipfsConnector.ipfshttp.connectSwarmsDelay),
            ("api.restapi.read_timeout", api.restapi.readTimeout), ("api.restapi.read_header_timeout", api.restapi.readHeaderTimeout),
            ("api.restapi.write_timeout", api.restapi.writeTimeout), ("api.restapi.idle_timeout", api.restapi.idleTimeout),
            ("api.restapi.cors_max_age", api.restapi.corsMaxAge),
            ("api.ipfsproxy.read_timeout", api.ipfsproxy.readTimeout), ("api.ipfsproxy.read_header_timeout", api.ipfsproxy.readHeaderTimeout),
            ("api.ipfsproxy.write_timeout", api.ipfsproxy.writeTimeout), ("api.ipfsproxy.idle_timeout", api.ipfsproxy.idleTimeout),
            ("api.ipfsproxy.extract_headers_ttl", api.ipfsproxy.extractHeadersTtl),
            ("api.pinsvcapi.read_timeout", api.pinsvcapi.readTimeout), ("api.pinsvcapi.read_header_timeout", api.pinsvcapi.readHeaderTimeout),
            ("api.pinsvcapi.write_timeout", api.pinsvcapi.writeTimeout), ("api.pinsvcapi.idle_timeout", api.pinsvcapi.idleTimeout),
            ("api.pinsvcapi.cors_max_age", api.pinsvcapi.corsMaxAge),
        ] { try duration(k, v, positive: false) }
        let (rmin, rmax) = (cluster.replicationFactorMin, cluster.replicationFactorMax)
        guard rmin == -1 || rmin >= 1 else { throw fail("cluster.replication_factor_min", "must be -1 (every peer) or at least 1, got \(rmin)") }
        guard rmax == -1 || rmax >= 1 else { throw fail("cluster.replication_factor_max", "must be -1 (every peer) or at least 1, got \(rmax)") }
        if rmax != -1 && (rmin == -1 || rmin > rmax) {
            throw fail("cluster.replication_factor_min", "must not be above replication_factor_max (\(rmin) > \(rmax)); -1 means every peer for both")
        }
        guard !consensus.crdt.clusterName.isEmpty else { throw fail("consensus.crdt.cluster_name", "must not be empty") }
        for (i, p) in consensus.crdt.trustedPeers.enumerated() where p != "*" {
            guard (try? PeerID(p)) != nil else { throw fail("consensus.crdt.trusted_peers[\(i)]", "\(p.debugDescription) is not a peer ID (12D3KooW…) or \"*\"") }
        }
        let b = consensus.crdt.batching
        guard b.maxBatchSize >= 1 else { throw fail("consensus.crdt.batching.max_batch_size", "must be at least 1") }
        guard b.maxQueueSize >= b.maxBatchSize else { throw fail("consensus.crdt.batching.max_queue_size", "must be at least max_batch_size (\(b.maxBatchSize))") }
        for (key, list) in [
            ("api.restapi.http_listen_multiaddress", api.restapi.httpListenMultiaddress),
            ("api.ipfsproxy.listen_multiaddress", api.ipfsproxy.listenMultiaddress),
            ("api.pinsvcapi.http_listen_multiaddress", api.pinsvcapi.httpListenMultiaddress),
        ] {
            for (i, a) in list.enumerated() { try multiaddr("\(key)[\(i)]", a) }
        }
        guard !api.restapi.httpListenMultiaddress.isEmpty else {
            throw fail("api.restapi.http_listen_multiaddress", "needs an address, e.g. /ip4/127.0.0.1/tcp/9094 (pinmeshctl and the other tools talk to it)")
        }
        if !api.ipfsproxy.nodeMultiaddress.isEmpty { try multiaddr("api.ipfsproxy.node_multiaddress", api.ipfsproxy.nodeMultiaddress) }
        guard api.pinsvcapi.sslCertFile.isEmpty == api.pinsvcapi.sslKeyFile.isEmpty else {
            throw fail(api.pinsvcapi.sslCertFile.isEmpty ? "api.pinsvcapi.ssl_cert_file" : "api.pinsvcapi.ssl_key_file", "set both ssl_cert_file and ssl_key_file (HTTPS), or neither (HTTP)")
        }
        try multiaddr("ipfs_connector.ipfshttp.node_multiaddress", ipfsConnector.ipfshttp.nodeMultiaddress)
        try multiaddr("metrics.prometheus_endpoint", metrics.prometheusEndpoint)
        guard pinTracker.stateless.concurrentPins >= 1 else { throw fail("pin_tracker.stateless.concurrent_pins", "must be at least 1") }
        guard pinTracker.stateless.priorityPinMaxRetries >= 0 else { throw fail("pin_tracker.stateless.priority_pin_max_retries", "must not be negative") }
        guard !allocator.balanced.allocateBy.isEmpty else { throw fail("allocator.balanced.allocate_by", "needs at least one metric, e.g. [\"freespace\"]") }
        guard informer.disk.metricType == "freespace" || informer.disk.metricType == "reposize" else {
            throw fail("informer.disk.metric_type", "must be \"freespace\" or \"reposize\"")
        }
        guard informer.pinqueue.weightBucketSize >= 1 else { throw fail("informer.pinqueue.weight_bucket_size", "must be at least 1") }
        guard api.restapi.sslCertFile.isEmpty == api.restapi.sslKeyFile.isEmpty else {
            throw fail(api.restapi.sslCertFile.isEmpty ? "api.restapi.ssl_cert_file" : "api.restapi.ssl_key_file", "set both ssl_cert_file and ssl_key_file (HTTPS), or neither (HTTP)")
        }
        guard api.restapi.maxHeaderBytes >= 1024 else { throw fail("api.restapi.max_header_bytes", "must be at least 1024") }
        // A metric must outlive the interval it is sent at, or every peer looks dead in between.
        let ping = GoDuration.parse(cluster.monitorPingInterval)!
        for (k, v) in [("informer.disk.metric_ttl", informer.disk.metricTtl), ("informer.tags.metric_ttl", informer.tags.metricTtl)]
        where GoDuration.parse(v)! <= ping {
            throw fail(k, "must be longer than cluster.monitor_ping_interval (\(cluster.monitorPingInterval)), or peers look dead between reports")
        }
    }

    // MARK: derived values

    /// The cluster secret's bytes.
    public var secretBytes: [UInt8] {
        var out: [UInt8] = []
        var it = cluster.secret.makeIterator()
        while let h = it.next(), let l = it.next() { out.append(UInt8(String([h, l]), radix: 16)!) }
        return out
    }

    public func duration(_ text: String) -> Duration { GoDuration.parse(text) ?? .zero }
}
