import Hummingbird

/// kubo's commands (kubo 0.40's command tree, core/commands/commands_test.go) that the embedded
/// node does not build: each answers kubo's error shape with HTTP 500 (`Code` 0, a command
/// error) and a reason naming what to use instead, rather than 404, so a client learns why.
/// A command group called without a subcommand answers as kubo's `ErrNotCallable` (400).
/// Names that are not kubo commands still get kubo's `404 page not found`.
extension KuboRPCServer {
    /// What each unbuilt group of commands is for (the first path component, or a longer
    /// prefix where one group is partly built), to finish "use kubo for …".
    static let unsupportedReasons: [(prefix: String, what: String)] = [
        ("name", "IPNS names (publishing and resolving /ipns/ paths)"),
        ("p2p", "libp2p stream forwarding"),
        ("files", "the mutable file system (MFS)"),
        ("pubsub", "IPFS pubsub (PinMesh's cluster has its own gossip, not kubo's pubsub API)"),
        ("routing", "peer routing and records (routing/findprovs and routing/provide work)"),
        ("dht", "DHT queries beyond dht/findprovs and dht/provide"),
        ("provide", "announcing content to the routing system"),
        ("filestore", "the filestore and urlstore (files referenced, not copied)"),
        ("key", "keys other than the node's self key (key/ls and key/list list that one)"),
        ("bitswap", "bitswap statistics, ledgers and wantlists"),
        ("bootstrap", "editing the bootstrap list (set Bootstrap in the repository's config file instead)"),
        ("swarm/filters", "swarm address filters"),
        ("swarm/peering", "editing peering at run time (set Peering.Peers in the repository's config file instead)"),
        ("swarm/resources", "the libp2p resource manager"),
        ("swarm/addrs", "the address book of other peers (swarm/addrs/listen and swarm/addrs/local work)"),
        ("object", "the deprecated object API beyond object/stat (use dag get, dag put and block commands)"),
        ("pin/remote", "remote pinning services (PinMesh serves the Pinning Service API itself: see Specs/pinning-service.md)"),
        ("config/edit", "editing the config in an editor (use config KEY VALUE)"),
        ("config/replace", "replacing the whole config (use config KEY VALUE)"),
        ("config/profile", "config profiles"),
        ("stats/bitswap", "bitswap statistics"),
        ("stats/bw", "bandwidth statistics (the embedded node keeps no bandwidth counters)"),
        ("stats/dht", "DHT statistics"),
        ("stats/provide", "provide statistics"),
        ("stats/reprovide", "reprovide statistics"),
        ("repo/migrate", "repository migrations (the embedded node's repository has its own layout)"),
        ("repo/ls", "listing repositories"),
        ("diag", "diagnostics"),
        ("log", "changing log levels at run time (set PinMesh's log level when starting it)"),
        ("mount", "FUSE mounts"),
        ("shutdown", "stopping the daemon over the API (stop the pinmesh process with SIGTERM)"),
        ("update", "updating kubo"),
        ("commands", "listing the command tree"),
        ("multibase", "multibase encoding of files"),
        ("ping", "pinging peers"),
        ("version/check", "version checks"),
        ("version/deps", "listing Go dependencies"),
    ]

    /// Every command of kubo 0.40 this node does not build (leaves and callable groups).
    static let kuboOnlyCommands: Set<String> = [
        "bitswap", "bitswap/ledger", "bitswap/reprovide", "bitswap/stat", "bitswap/wantlist",
        "bootstrap", "bootstrap/add", "bootstrap/list", "bootstrap/rm", "bootstrap/rm/all",
        "commands", "commands/completion", "commands/completion/bash", "commands/completion/fish", "commands/completion/zsh",
        "config/edit", "config/profile", "config/profile/apply", "config/replace",
        "dht", "dht/query", "dht/findpeer", "dht/get", "dht/put",
        "routing", "routing/put", "routing/get", "routing/findpeer", "routing/reprovide",
        "diag", "diag/cmds", "diag/cmds/clear", "diag/cmds/set-time", "diag/datastore", "diag/datastore/count", "diag/datastore/get",
        "diag/profile", "diag/sys",
        "files", "files/chcid", "files/cp", "files/flush", "files/ls", "files/mkdir", "files/mv", "files/read", "files/rm",
        "files/stat", "files/write", "files/chmod", "files/touch", "files/chroot",
        "filestore", "filestore/dups", "filestore/ls", "filestore/verify",
        "key/export", "key/gen", "key/import", "key/rename", "key/rm", "key/rotate", "key/sign", "key/verify",
        "log", "log/level", "log/ls", "log/tail", "mount",
        "multibase", "multibase/decode", "multibase/encode", "multibase/transcode", "multibase/list",
        "name", "name/get", "name/put", "name/inspect", "name/publish", "name/pubsub", "name/pubsub/cancel", "name/pubsub/state", "name/pubsub/subs",
        "name/resolve",
        "object/data", "object/diff", "object/get", "object/links", "object/new", "object/patch", "object/patch/add-link",
        "object/patch/append-data", "object/patch/rm-link", "object/patch/set-data", "object/put",
        "p2p", "p2p/close", "p2p/forward", "p2p/listen", "p2p/ls", "p2p/stream", "p2p/stream/close", "p2p/stream/ls",
        "pin/remote", "pin/remote/add", "pin/remote/ls", "pin/remote/rm", "pin/remote/service", "pin/remote/service/add",
        "pin/remote/service/ls", "pin/remote/service/rm",
        "ping", "provide", "provide/clear", "provide/stat",
        "pubsub", "pubsub/ls", "pubsub/peers", "pubsub/pub", "pubsub/reset", "pubsub/sub",
        "repo/migrate", "repo/ls", "shutdown",
        "stats/bitswap", "stats/bw", "stats/dht", "stats/provide", "stats/reprovide",
        "swarm/addrs", "swarm/addrs/autonat", "swarm/filters", "swarm/filters/add", "swarm/filters/rm", "swarm/peering", "swarm/peering/add",
        "swarm/peering/ls", "swarm/peering/rm", "swarm/resources",
        "update", "version/check", "version/deps",
    ]

    /// kubo's groups without a `Run` whose subcommands this node builds (some or all).
    static let notCallableGroups: Set<String> = ["block", "cid", "dag", "key", "object", "pin", "repo", "stats", "swarm"]

    /// The handler for a kubo command this node does not build, or nil for a name kubo lacks.
    static func unsupported(_ name: String) -> Handler? {
        if notCallableGroups.contains(name) {
            return { _, _, _ in throw KuboError.client("This command can't be called directly. Try one of its subcommands.") }
        }
        guard kuboOnlyCommands.contains(name) else { return nil }
        let message = unsupportedMessage(name)
        return { _, _, _ in throw KuboError.normal(message) }
    }

    static func unsupportedMessage(_ name: String) -> String {
        let what =
            unsupportedReasons.filter { name == $0.prefix || name.hasPrefix($0.prefix + "/") }
            .max { $0.prefix.count < $1.prefix.count }?.what ?? "this command"
        return "\(name) is not supported by PinMesh's embedded node: use kubo for \(what)"
    }
}
