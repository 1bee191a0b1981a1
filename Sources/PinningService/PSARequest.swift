import ClusterModel
import Foundation
public import Multiformats

/// One Pinning Service API pin request as the pinset keeps it: in reserved metadata entries
/// of the cluster pin of its CID (`Specs/pinning-service.md`, "Persistence").
///
/// - The record is compact JSON (`{"t":created,"n":name,"m":{meta},"o":[origins]}`, empty
///   fields omitted), stored under `psa:<requestid>`; a record longer than one metadata value
///   (``chunkBytes``) continues under `psa:<requestid>#1`, `#2`, … (at most ``maxChunks`` in all).
/// - `created` is Unix nanoseconds: microseconds made unique on the peer that made it, the
///   last three digits a tag of that peer (``PSACreated``), so it is unique cluster-wide.
/// - A request id is 32 lowercase hex digits (128 random bits).
public struct PSARequest: Hashable, Sendable {
    public var requestID: String
    public var cid: CID
    /// Unix nanoseconds; immutable once made.
    public var created: Int64
    public var name: String
    public var meta: [String: String]
    public var origins: [String]

    public init(requestID: String, cid: CID, created: Int64, name: String = "", meta: [String: String] = [:], origins: [String] = []) {
        self.requestID = requestID
        self.cid = cid
        self.created = created
        self.name = name
        self.meta = meta
        self.origins = origins
    }

    /// The prefix of every metadata key a request owns.
    public static let keyPrefix = "psa:"
    /// A metadata key whose presence says the pin existed (from the REST API) before its first
    /// request: deleting the last request then keeps the pin.
    public static let keptKey = "psa"
    /// The bytes of one metadata value (``PinCodec``'s string limit).
    public static let chunkBytes = 1024
    /// The most metadata entries one request may take.
    public static let maxChunks = 8
    /// The longest name the spec allows, in characters.
    public static let maxNameCharacters = 255
    /// The most origins a request may name (the spec's limit).
    public static let maxOrigins = 20

    struct Wire: Codable {
        var t: Int64
        var n: String?
        var m: [String: String]?
        var o: [String]?
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The record's metadata entries: key → value, in chunks of at most ``chunkBytes``.
    public func entries() -> [String: String] {
        let wire = Wire(t: created, n: name.isEmpty ? nil : name, m: meta.isEmpty ? nil : meta, o: origins.isEmpty ? nil : origins)
        let bytes = Array((try? Self.encoder.encode(wire)) ?? Data())
        var out: [String: String] = [:]
        var start = 0
        var index = 0
        while start < bytes.count {
            var end = min(start + Self.chunkBytes, bytes.count)
            // Never cut a UTF-8 sequence: back up to the start of the scalar at `end`.
            while end < bytes.count, end > start, bytes[end] & 0xC0 == 0x80 { end -= 1 }
            out[Self.key(requestID, chunk: index)] = String(decoding: bytes[start..<end], as: UTF8.self)
            start = end
            index += 1
        }
        return out
    }

    /// The metadata key of chunk `chunk` of request `id`.
    public static func key(_ id: String, chunk: Int) -> String {
        chunk == 0 ? keyPrefix + id : keyPrefix + id + "#\(chunk)"
    }

    /// Whether `id` has the form of a request id (32 lowercase hex digits).
    public static func isRequestID(_ id: some StringProtocol) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// A fresh random request id.
    public static func newID<G: RandomNumberGenerator>(using rng: inout G) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for _ in 0..<2 {
            var v = rng.next()
            for _ in 0..<16 {
                out.append(hex[Int(v & 15)])
                v >>= 4
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Every request stored in `metadata` (of the pin of `cid`), sorted newest first. Entries
    /// that do not decode (a missing chunk, bad JSON) are left out and their ids returned in
    /// `broken`, so one bad record never hides the others.
    public static func decodeAll(_ metadata: [String: String], cid: CID) -> (requests: [PSARequest], broken: [String]) {
        var chunks: [String: [Int: String]] = [:]
        for (k, v) in metadata where k.hasPrefix(keyPrefix) {
            let rest = k.dropFirst(keyPrefix.count)
            let parts = rest.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let id = String(parts[0])
            var index = 0
            if parts.count == 2 {
                guard let i = Int(parts[1]), i > 0, i < maxChunks, String(i) == parts[1] else {
                    chunks[id, default: [:]][-1] = ""
                    continue
                }
                index = i
            }
            chunks[id, default: [:]][index] = v
        }
        var out: [PSARequest] = []
        var broken: [String] = []
        for (id, parts) in chunks.sorted(by: { $0.key < $1.key }) {
            guard let r = decode(id: id, parts: parts, cid: cid) else {
                broken.append(id)
                continue
            }
            out.append(r)
        }
        return (out.sorted(by: Self.newestFirst), broken)
    }

    static func decode(id: String, parts: [Int: String], cid: CID) -> PSARequest? {
        guard isRequestID(id), parts[-1] == nil, parts.count <= maxChunks else { return nil }
        var text = ""
        for i in 0..<parts.count {
            guard let p = parts[i] else { return nil }
            text += p
        }
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(text.utf8)), wire.t > 0 else { return nil }
        let r = PSARequest(requestID: id, cid: cid, created: wire.t, name: wire.n ?? "", meta: wire.m ?? [:], origins: wire.o ?? [])
        // A record that its own writer would not have written (an empty name written out, …)
        // is not this codec's output.
        guard r.entries() == parts.reduce(into: [String: String](), { $0[key(id, chunk: $1.key)] = $1.value }) else { return nil }
        return r
    }

    /// Newest first; equal times (two peers' tags can collide) by request id.
    public static func newestFirst(_ a: PSARequest, _ b: PSARequest) -> Bool {
        a.created != b.created ? a.created > b.created : a.requestID < b.requestID
    }
}
