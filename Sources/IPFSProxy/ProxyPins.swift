import ClusterModel
import EmbeddedIPFS
import Hummingbird
import Multiformats
import Node

/// `pin/add`, `pin/rm`, `pin/ls` and `pin/update` on the cluster's pinset, answered in kubo's
/// shapes (`{"Pins":[…]}`, `{"Keys":{…}}`, and `pin/ls --stream`'s `{"Cid","Type"}` lines).
/// A pin is committed to the shared pinset and the call returns (as ipfs-cluster's proxy: it
/// does not wait for the allocated daemons to fetch the content).
extension IPFSProxyServer {
    /// The CID an argument names: a CID or `/ipfs/<cid>` as it is; a longer path, `/ipns/…` or
    /// `/ipld/…` as this peer's daemon resolves it.
    func target(_ arg: String) async throws -> CID {
        if !arg.hasPrefix("/") { return try RPCCall.parseCID(arg) }
        let parts = arg.split(separator: "/", omittingEmptySubsequences: true)
        guard let ns = parts.first, ["ipfs", "ipns", "ipld"].contains(ns), parts.count >= 2 else {
            throw KuboError.client("invalid path \(arg.debugDescription): a path starts /ipfs/<cid>, /ipns/<name> or /ipld/<cid>")
        }
        if ns == "ipfs" && parts.count == 2 { return try RPCCall.parseCID(arg) }
        return try await peer.resolve(arg)
    }

    func pinAdd(_ c: RPCCall, _ headers: HTTPFields) async throws -> Response {
        try c.requireArgs("ipfs-path")
        var options = PinOptions()
        options.mode = try c.bool("recursive", "r", default: true) ? .recursive : .direct
        options.name = try c.string("name") ?? ""
        var pinned: [String] = []
        for arg in c.args {
            let cid = try await target(arg)
            _ = try await peer.pin(cid, options: options)
            pinned.append(cid.description)
        }
        return ProxyAnswer.json("{\"Pins\":\(JSONText.strings(pinned))}", headers: headers)
    }

    func pinRm(_ c: RPCCall, _ headers: HTTPFields) async throws -> Response {
        try c.requireArgs("ipfs-path")
        var removed: [String] = []
        for arg in c.args {
            let cid = try await target(arg)
            do {
                try await peer.unpin(cid)
            } catch let e as ClusterError where e.kind == .notFound {
                // kubo's words, which clients match on, then the cluster's.
                throw KuboError.normal("not pinned or pinned indirectly: \(e.message)")
            }
            removed.append(cid.description)
        }
        return ProxyAnswer.json("{\"Pins\":\(JSONText.strings(removed))}", headers: headers)
    }

    /// kubo's type of a cluster pin: `direct` for a direct pin, else `recursive` (the cluster
    /// keeps no indirect pins).
    static func kuboType(_ pin: Pin) -> String { pin.options.mode == .direct ? "direct" : "recursive" }

    /// The pins `pin/ls` lists: what users pinned or added (not the shards and cluster DAGs of a
    /// sharded add, which the sharded add's root stands for).
    static func listed(_ pin: Pin) -> Bool { pin.type == .data || pin.type == .meta }

    /// What `pin/ls` lists and how it writes one pin.
    struct PinListing: Sendable {
        var type: String
        var names: Bool

        func wanted(_ pin: Pin) -> Bool { IPFSProxyServer.listed(pin) && (type == "all" || type == IPFSProxyServer.kuboType(pin)) }

        /// `"Type":"recursive"` (and `"Name"` with `names`).
        func fields(_ pin: Pin) -> String {
            let name = names && !pin.name.isEmpty ? ",\"Name\":\(JSONText.string(pin.name))" : ""
            return "\"Type\":\"\(IPFSProxyServer.kuboType(pin))\"\(name)"
        }
    }

    func pinLs(_ c: RPCCall, _ headers: HTTPFields) async throws -> Response {
        let type = try c.string("type", "t") ?? "all"
        guard ["all", "direct", "indirect", "recursive"].contains(type) else {
            throw KuboError.client("invalid type '\(type)', must be one of {direct, indirect, recursive, all}")
        }
        let stream = try c.bool("stream", "s", default: false)
        let listing = PinListing(type: type, names: try c.bool("names", "n", default: false))
        _ = try c.bool("quiet", "q", default: false)
        var pins: [Pin]?
        if !c.args.isEmpty {
            var found: [Pin] = []
            for arg in c.args {
                let cid = try await target(arg)
                guard let pin = try await peer.pinned(cid), listing.wanted(pin) else { throw KuboError.normal("path '\(arg)' is not pinned") }
                found.append(pin)
            }
            pins = found
        }
        let chosen = pins
        let peer = self.peer
        /// Every pin listed, in key order, read in pages.
        let each: @Sendable ((Pin) async throws -> Void) async throws -> Void = { body in
            if let chosen {
                for p in chosen { try await body(p) }
            } else {
                try await peer.forEachPin { p in if listing.wanted(p) { try await body(p) } }
            }
        }
        if stream {
            return await ProxyAnswer.stream(headers: headers) { out in
                try await each { pin in try await out.line("{\"Cid\":\"\(pin.cid)\",\(listing.fields(pin))}") }
            }
        }
        // One JSON object, written as the pins are read (never held whole).
        return await ProxyAnswer.stream(headers: headers, chunked: false) { out in
            try await out.text("{\"Keys\":{")
            var first = true
            try await each { pin in
                try await out.text("\(first ? "" : ",")\"\(pin.cid)\":{\(listing.fields(pin))}")
                first = false
            }
            try await out.line("}}")
        }
    }

    func pinUpdate(_ c: RPCCall, _ headers: HTTPFields) async throws -> Response {
        guard c.args.count >= 1 else { throw KuboError.client("argument \"from-path\" is required") }
        guard c.args.count >= 2 else { throw KuboError.client("argument \"to-path\" is required") }
        let unpin = try c.bool("unpin", default: true)
        let from = try await target(c.args[0])
        let to = try await target(c.args[1])
        guard let old = try await peer.pinned(from) else {
            throw KuboError.normal("'from' cid was not recursively pinned already: \(from) is not pinned in the cluster")
        }
        var options = old.options
        options.pinUpdate = from
        _ = try await peer.pin(to, options: options)
        if unpin && from != to { try await peer.unpin(from) }
        return ProxyAnswer.json("{\"Pins\":\(JSONText.strings([from.description, to.description]))}", headers: headers)
    }
}
