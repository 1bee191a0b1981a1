public import Foundation
public import Multiformats

/// A point in time with millisecond precision (what the pinset stores and compares).
public struct Timestamp: Hashable, Comparable, Sendable {
    public var unixMillis: Int64

    public init(unixMillis: Int64) { self.unixMillis = unixMillis }
    public init(_ date: Date) { unixMillis = Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    public var date: Date { Date(timeIntervalSince1970: Double(unixMillis) / 1000) }
    public static func now() -> Timestamp { Timestamp(Date()) }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.unixMillis < b.unixMillis }

    /// RFC 3339 with milliseconds in UTC, as Go's `time.Time` marshals (`…T…Z`).
    public var rfc3339: String {
        let (days, ms) = unixMillis.quotientAndRemainder(dividingBy: 86_400_000)
        let (d, dayMillis) = ms < 0 ? (days - 1, ms + 86_400_000) : (days, ms)
        let (y, m, day) = Self.civil(fromDays: d)
        let h = dayMillis / 3_600_000, mi = dayMillis / 60_000 % 60, sec = dayMillis / 1000 % 60, milli = dayMillis % 1000
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let three = milli < 10 ? "00\(milli)" : milli < 100 ? "0\(milli)" : "\(milli)"
        let year = y >= 0 && y < 10_000 ? String(repeating: "0", count: 4 - "\(y)".count) + "\(y)" : "\(y)"
        return "\(year)-\(two(m))-\(two(day))T\(two(h)):\(two(mi)):\(two(sec)).\(three)Z"
    }

    /// Parses RFC 3339 (`2026-11-27T17:19:30.179Z`, `…+02:00`, with or without fractional
    /// seconds, `t`/`z` accepted); `nil` when it is not such a time.
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func num(_ at: Int, _ n: Int) -> Int64? {
            guard at + n <= b.count else { return nil }
            var v: Int64 = 0
            for c in b[at..<at + n] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        guard b.count >= 20, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
            b[10] == 84 || b[10] == 116, let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let s = num(17, 2),
            (1...12).contains(mo), d >= 1, d <= Self.daysIn(month: mo, year: y), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var millis: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 3 { millis = millis * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = num(i + 4, 2), oh < 24, om < 60 {
            offset = (oh * 60 + om) * 60_000 * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = Self.days(fromCivil: y, mo, d)
        self.init(unixMillis: days * 86_400_000 + ((h * 60 + mi) * 60 + min(s, 59)) * 1000 + millis - offset)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Go's zero `time.Time`, which ipfs-cluster emits for "not set".
    static let goZero = "0001-01-01T00:00:00Z"

    /// As Go writes a `time.Time`: the zero time when unset (0 ms).
    var goText: String { unixMillis == 0 ? Self.goZero : rfc3339 }

    /// A Go time at `key`: absent or the zero time is 0 ms; text that is not RFC 3339 is an error.
    static func decodeGo<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> Timestamp {
        guard let text = try c.decodeIfPresent(String.self, forKey: key), text != goZero else { return Timestamp(unixMillis: 0) }
        guard let t = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.stringValue) is not an RFC 3339 time: \(text)")
        }
        return t
    }
}

/// What a pin is in the cluster (ipfs-cluster's `PinType`; the raw values are its bit flags).
public enum PinType: Int, Hashable, Sendable, CaseIterable {
    /// A regular pin, pinned in IPFS as its mode says.
    case data = 2
    /// The root of a sharded DAG: tracked by the cluster, never pinned in IPFS as a whole.
    case meta = 4
    /// The node listing a sharded DAG's shards, pinned directly.
    case clusterDAG = 8
    /// One shard: a node linking only leaves, pinned recursively on its allocations.
    case shard = 16

    public var name: String {
        switch self {
        case .data: "pin"
        case .meta: "meta-pin"
        case .clusterDAG: "clusterdag-pin"
        case .shard: "shard-pin"
        }
    }

    public init?(name: String) {
        guard let t = PinType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }
}

/// How IPFS pins the content (ipfs-cluster's `PinMode`).
public enum PinMode: String, Hashable, Sendable {
    case recursive, direct
}

/// The options a user sets on a pin (ipfs-cluster's `PinOptions`).
public struct PinOptions: Hashable, Sendable {
    /// 0 means "the cluster's default"; -1 means "every peer".
    public var replicationFactorMin = 0
    public var replicationFactorMax = 0
    public var name = ""
    public var mode = PinMode.recursive
    public var shardSize: UInt64 = 0
    public var userAllocations: [PeerID] = []
    public var expireAt: Timestamp?
    public var metadata: [String: String] = [:]
    /// A pin this one replaces: the new CID is pinned first, then the old one unpinned.
    public var pinUpdate: CID?
    /// Peers that hold the content (IPFS multiaddresses with `/p2p/`).
    public var origins: [Multiaddr] = []

    public init() {}
}

/// One entry of the shared pinset: a CID and everything the cluster knows about pinning it
/// (ipfs-cluster's `api.Pin`, with the same fields and JSON).
public struct Pin: Hashable, Sendable {
    public var cid: CID
    public var type: PinType
    /// The peers that should pin it; empty with replication -1 means everywhere.
    public var allocations: [PeerID]
    /// -1 recursive, 0 direct, N > 0 down to depth N (the embedded IPFS node supports it).
    public var maxDepth: Int
    /// For a shard: the previous shard; for the cluster DAG: the meta-pin; for the meta-pin:
    /// the cluster DAG.
    public var reference: CID?
    /// When the pin was submitted.
    public var timestamp: Timestamp
    public var options: PinOptions

    public init(
        cid: CID, type: PinType = .data, allocations: [PeerID] = [], maxDepth: Int = -1,
        reference: CID? = nil, timestamp: Timestamp = Timestamp(unixMillis: 0), options: PinOptions = PinOptions()
    ) {
        self.cid = cid
        self.type = type
        self.allocations = allocations
        self.maxDepth = maxDepth
        self.reference = reference
        self.timestamp = timestamp
        self.options = options
    }

    public var name: String { options.name }

    /// Whether every peer pins it.
    public var isPinEverywhere: Bool { options.replicationFactorMin == -1 && options.replicationFactorMax == -1 }

    /// Whether the pin has expired at `now`.
    public func hasExpired(at now: Timestamp) -> Bool {
        guard let e = options.expireAt, e.unixMillis > 0 else { return false }
        return e < now
    }
}

// MARK: JSON, exactly as ipfs-cluster 1.x emits it

extension Pin: Codable {
    enum Key: String, CodingKey {
        case replicationFactorMin = "replication_factor_min", replicationFactorMax = "replication_factor_max"
        case name, mode, shardSize = "shard_size", userAllocations = "user_allocations", expireAt = "expire_at"
        case metadata, pinUpdate = "pin_update", origins
        case cid, type, allocations, maxDepth = "max_depth", reference, timestamp
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(options.replicationFactorMin, forKey: .replicationFactorMin)
        try c.encode(options.replicationFactorMax, forKey: .replicationFactorMax)
        try c.encode(options.name, forKey: .name)
        try c.encode(options.mode.rawValue, forKey: .mode)
        try c.encode(options.shardSize, forKey: .shardSize)
        if options.userAllocations.isEmpty {
            try c.encodeNil(forKey: .userAllocations)
        } else {
            try c.encode(options.userAllocations, forKey: .userAllocations)
        }
        try c.encode(options.expireAt.map(\.rfc3339) ?? Timestamp.goZero, forKey: .expireAt)
        if options.metadata.isEmpty { try c.encodeNil(forKey: .metadata) } else { try c.encode(options.metadata, forKey: .metadata) }
        try c.encode(options.pinUpdate, forKey: .pinUpdate)
        try c.encode(options.origins, forKey: .origins)
        try c.encode(cid, forKey: .cid)
        try c.encode(type.name, forKey: .type)
        try c.encode(allocations, forKey: .allocations)
        try c.encode(maxDepth, forKey: .maxDepth)
        try c.encode(reference, forKey: .reference)
        try c.encode(timestamp.goText, forKey: .timestamp)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        func time(_ key: Key) throws -> Timestamp? {
            guard let text = try c.decodeIfPresent(String.self, forKey: key), text != Timestamp.goZero else { return nil }
            guard let t = Timestamp(rfc3339: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.rawValue) is not an RFC 3339 time: \(text)")
            }
            return t.unixMillis == 0 ? nil : t
        }
        var o = PinOptions()
        o.replicationFactorMin = try c.decodeIfPresent(Int.self, forKey: .replicationFactorMin) ?? 0
        o.replicationFactorMax = try c.decodeIfPresent(Int.self, forKey: .replicationFactorMax) ?? 0
        o.name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        if let m = try c.decodeIfPresent(String.self, forKey: .mode), !m.isEmpty {
            guard let mode = PinMode(rawValue: m) else {
                throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "mode must be recursive or direct, not \(m)")
            }
            o.mode = mode
        }
        o.shardSize = try c.decodeIfPresent(UInt64.self, forKey: .shardSize) ?? 0
        o.userAllocations = try c.decodeIfPresent([PeerID].self, forKey: .userAllocations) ?? []
        o.expireAt = try time(.expireAt)
        o.metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        o.pinUpdate = try c.decodeIfPresent(CID.self, forKey: .pinUpdate)
        o.origins = try c.decodeIfPresent([Multiaddr].self, forKey: .origins) ?? []
        options = o
        cid = try c.decode(CID.self, forKey: .cid)
        if let t = try c.decodeIfPresent(String.self, forKey: .type) {
            guard let pt = PinType(name: t) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .type, in: c, debugDescription: "type must be pin, meta-pin, clusterdag-pin or shard-pin, not \(t)")
            }
            type = pt
        } else {
            type = .data
        }
        allocations = try c.decodeIfPresent([PeerID].self, forKey: .allocations) ?? []
        maxDepth = try c.decodeIfPresent(Int.self, forKey: .maxDepth) ?? (o.mode == .direct ? 0 : -1)
        reference = try c.decodeIfPresent(CID.self, forKey: .reference)
        timestamp = try time(.timestamp) ?? Timestamp(unixMillis: 0)
    }
}
