import Foundation
public import Multiformats

/// One provider in a Routing V1 HTTP answer (`GET /routing/v1/providers/{cid}`, the IPFS
/// specs' `src/routing/http-routing-v1.md`): a peer, the multiaddrs it may be dialled at and the
/// transfer protocols it speaks. Addresses and protocols are kept as the opaque strings the wire
/// carries (the spec asks routers to); ``multiaddrs`` parses the ones PinMesh can dial.
public struct RoutingProvider: Sendable, Equatable {
    public var id: PeerID
    public var addrs: [String]
    public var protocols: [String]

    public init(id: PeerID, addrs: [String], protocols: [String]) {
        self.id = id
        self.addrs = addrs
        self.protocols = protocols
    }

    public init(id: PeerID, multiaddrs: [Multiaddr], protocols: [String] = [RoutingV1.bitswap]) {
        self.init(id: id, addrs: multiaddrs.map(\.description), protocols: protocols)
    }

    /// The addresses that parse as multiaddrs PinMesh knows, without a trailing `/p2p/<id>`.
    public var multiaddrs: [Multiaddr] {
        addrs.compactMap { try? Multiaddr($0) }.map { $0.withoutPeerID ?? $0 }
    }

    /// Whether bitswap can be asked: `transport-bitswap` listed, or no protocol listed at all
    /// (DHT answers carry none; the spec calls that "unknown").
    public var mayServeBitswap: Bool { protocols.isEmpty || protocols.contains(RoutingV1.bitswap) }
}

/// The Routing V1 HTTP API's provider records: their JSON (`{"Providers":[…]}`) and NDJSON
/// (one record a line) forms, written and read within hard limits.
///
/// - Written: each provider as a `peer` schema record, keys sorted as boxo writes them
///   (`{"Addrs":[…],"ID":"12D3KooW…","Protocols":[…],"Schema":"peer"}`), and, with `legacy`, a
///   second `bitswap` schema record (`{"Addrs":[…],"ID":…,"Protocol":"transport-bitswap",
///   "Schema":"bitswap"}`) for providers that speak bitswap: kubo up to 0.22 (boxo ≤ 0.12)
///   reads only that schema and skips `peer` records.
/// - Read: `peer` and `bitswap` records; records of one peer are merged (addresses and
///   protocols in order of first appearance, without repeats). Records of other schemas, without
///   a valid `ID`, or not objects are skipped and counted; so are addresses and protocols that
///   are not strings or are over ``Limits/maxStringBytes`` (protocols: 63 bytes, the spec's
///   limit). A body over ``Limits/maxBodyBytes``, JSON that is not an object, or `Providers`
///   that is not an array (or null) is an error: nothing is taken from it.
/// - At most ``Limits/maxProviders`` providers (then ``Decoded/truncated``), each with at most
///   ``Limits/maxAddresses`` addresses and ``Limits/maxProtocols`` protocols (the rest dropped
///   and counted).
public enum RoutingV1 {
    public static let providersPath = "/routing/v1/providers/"
    public static let jsonType = "application/json"
    public static let ndjsonType = "application/x-ndjson"
    public static let bitswap = "transport-bitswap"
    public static let maxProtocolBytes = 63

    public struct Limits: Sendable, Equatable {
        public var maxBodyBytes = 1 << 20
        public var maxProviders = 100
        public var maxAddresses = 32
        public var maxProtocols = 16
        public var maxStringBytes = 1024
        public init() {}
        public init(maxBodyBytes: Int, maxProviders: Int, maxAddresses: Int = 32, maxProtocols: Int = 16, maxStringBytes: Int = 1024) {
            self.maxBodyBytes = maxBodyBytes
            self.maxProviders = maxProviders
            self.maxAddresses = maxAddresses
            self.maxProtocols = maxProtocols
            self.maxStringBytes = maxStringBytes
        }
    }

    /// What a body held: the providers, and how much of it was skipped.
    public struct Decoded: Sendable, Equatable {
        public var providers: [RoutingProvider] = []
        /// Records skipped: another schema, no valid `ID`, not an object (NDJSON: not JSON).
        public var skippedRecords = 0
        /// Addresses and protocols dropped: not strings, too long, or over the per-record limits.
        public var skippedFields = 0
        /// More providers than ``Limits/maxProviders``: the rest were not read.
        public var truncated = false
        /// The first reason a record was skipped, for a log line.
        public var firstProblem: String?
        public init() {}
    }

    public struct DecodeError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: writing

    /// `{"Providers":[…]}`.
    public static func json(_ providers: [RoutingProvider], legacy: Bool = true) -> [UInt8] {
        var out = Array("{\"Providers\":[".utf8)
        var first = true
        for p in providers {
            for r in records(p, legacy: legacy) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out += r
            }
        }
        out += Array("]}".utf8)
        return out
    }

    /// The NDJSON lines of one provider (each ends with a newline).
    public static func ndjsonLines(_ provider: RoutingProvider, legacy: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        for r in records(provider, legacy: legacy) { out += r + [UInt8(ascii: "\n")] }
        return out
    }

    static func records(_ p: RoutingProvider, legacy: Bool) -> [[UInt8]] {
        var out = [object(["Addrs": p.addrs, "ID": p.id.description, "Protocols": p.protocols, "Schema": "peer"])]
        if legacy && p.protocols.contains(bitswap) {
            out.append(object(["Addrs": p.addrs, "ID": p.id.description, "Protocol": bitswap, "Schema": "bitswap"]))
        }
        return out
    }

    static func object(_ fields: [String: Any]) -> [UInt8] {
        // Sorted keys and unescaped slashes: boxo's byte form.
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    // MARK: reading

    /// Reads an `application/json` body.
    public static func decodeJSON(_ body: [UInt8], limits: Limits = Limits()) throws(DecodeError) -> Decoded {
        guard body.count <= limits.maxBodyBytes else {
            throw DecodeError("the answer is over \(limits.maxBodyBytes) bytes")
        }
        guard let top = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            throw DecodeError("the answer is not JSON")
        }
        guard let object = top as? [String: Any] else { throw DecodeError("the answer is not a JSON object") }
        var merger = Merger(limits: limits)
        switch object["Providers"] {
        case nil, is NSNull: break
        case let list as [Any]:
            for record in list where !merger.decoded.truncated { merger.add(record) }
        default: throw DecodeError("\"Providers\" is not an array")
        }
        return merger.decoded
    }

    /// Reads an `application/x-ndjson` body: one record a line; blank lines are skipped, a line
    /// that is not JSON is skipped and counted.
    public static func decodeNDJSON(_ body: [UInt8], limits: Limits = Limits()) throws(DecodeError) -> Decoded {
        guard body.count <= limits.maxBodyBytes else {
            throw DecodeError("the answer is over \(limits.maxBodyBytes) bytes")
        }
        var merger = Merger(limits: limits)
        for line in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) where !merger.decoded.truncated {
            let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }
            guard trimmed.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0d }) else { continue }
            guard let record = try? JSONSerialization.jsonObject(with: Data(trimmed), options: [.fragmentsAllowed]) else {
                merger.skip("a line is not JSON")
                continue
            }
            merger.add(record)
        }
        return merger.decoded
    }

    /// Reads a body by its `Content-Type` (parameters ignored).
    public static func decode(_ body: [UInt8], contentType: String?, limits: Limits = Limits()) throws(DecodeError) -> Decoded {
        let type = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case jsonType: return try decodeJSON(body, limits: limits)
        case ndjsonType: return try decodeNDJSON(body, limits: limits)
        default: throw DecodeError("the answer's Content-Type \((contentType ?? "none").debugDescription) is neither \(jsonType) nor \(ndjsonType)")
        }
    }

    /// Builds ``Decoded`` from records, merging those of one peer.
    struct Merger {
        let limits: Limits
        var decoded = Decoded()
        var index: [PeerID: Int] = [:]

        mutating func skip(_ why: String) {
            decoded.skippedRecords += 1
            if decoded.firstProblem == nil { decoded.firstProblem = why }
        }

        mutating func add(_ any: Any) {
            guard let r = any as? [String: Any] else { return skip("a record is not a JSON object") }
            let schema = r["Schema"] as? String
            guard schema == "peer" || schema == "bitswap" else {
                return skip("a record's Schema is \((schema ?? "missing").debugDescription), not \"peer\"")
            }
            guard let idText = r["ID"] as? String, idText.utf8.count <= limits.maxStringBytes, let id = try? PeerID(idText) else {
                return skip("a record's ID is not a peer ID")
            }
            var addrs = strings(r["Addrs"], max: limits.maxStringBytes)
            var protocols: [String]
            if schema == "bitswap" {
                protocols = strings(r["Protocol"].map { [$0] }, max: RoutingV1.maxProtocolBytes)
            } else {
                protocols = strings(r["Protocols"], max: RoutingV1.maxProtocolBytes)
            }
            if let i = index[id] {
                addrs = decoded.providers[i].addrs + addrs.filter { !decoded.providers[i].addrs.contains($0) }
                protocols = decoded.providers[i].protocols + protocols.filter { !decoded.providers[i].protocols.contains($0) }
                decoded.providers[i].addrs = capped(unique(addrs), limits.maxAddresses)
                decoded.providers[i].protocols = capped(unique(protocols), limits.maxProtocols)
                return
            }
            guard decoded.providers.count < limits.maxProviders else {
                decoded.truncated = true
                return
            }
            index[id] = decoded.providers.count
            decoded.providers.append(RoutingProvider(id: id, addrs: capped(unique(addrs), limits.maxAddresses), protocols: capped(unique(protocols), limits.maxProtocols)))
        }

        /// The strings of a JSON array (nil or null: none), each at most `max` UTF-8 bytes.
        mutating func strings(_ any: Any?, max: Int) -> [String] {
            guard let any, !(any is NSNull) else { return [] }
            guard let list = any as? [Any] else {
                decoded.skippedFields += 1
                return []
            }
            var out: [String] = []
            for item in list {
                if let s = item as? String, !s.isEmpty, s.utf8.count <= max { out.append(s) } else { decoded.skippedFields += 1 }
            }
            return out
        }

        func unique(_ list: [String]) -> [String] {
            var seen = Set<String>()
            return list.filter { seen.insert($0).inserted }
        }

        mutating func capped(_ list: [String], _ n: Int) -> [String] {
            if list.count > n { decoded.skippedFields += list.count - n }
            return Array(list.prefix(n))
        }
    }
}
