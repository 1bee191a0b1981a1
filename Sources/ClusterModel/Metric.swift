public import Multiformats

/// A value a peer publishes about itself (`ping`, `freespace`, `tag:group`, `pinqueue`,
/// `numpin`), valid until `expire`. JSON exactly as ipfs-cluster 1.x's `api.Metric`: `name`,
/// `peer`, `value` (a string), `expire` and `received_at` (Unix nanoseconds), `valid`, `weight`,
/// `partitionable`.
public struct Metric: Codable, Hashable, Sendable {
    public var name: String
    public var peer: PeerID
    public var value: String
    /// Unix nanoseconds after which the metric no longer holds.
    public var expire: Int64
    public var valid: Bool
    /// What the allocator sorts by (for `freespace`, the free bytes; for `pinqueue`, minus the
    /// queue's bucket, so more is better everywhere).
    public var weight: Int64
    /// Whether the allocator splits peers into groups by this metric's value (tags).
    public var partitionable: Bool
    /// Unix nanoseconds when this peer received the metric (0 on the sender).
    public var receivedAt: Int64

    public init(
        name: String, peer: PeerID, value: String, expire: Int64, valid: Bool = true, weight: Int64 = 0,
        partitionable: Bool = false, receivedAt: Int64 = 0
    ) {
        self.name = name
        self.peer = peer
        self.value = value
        self.expire = expire
        self.valid = valid
        self.weight = weight
        self.partitionable = partitionable
        self.receivedAt = receivedAt
    }

    enum CodingKeys: String, CodingKey {
        case name, peer, value, expire, valid, weight, partitionable
        case receivedAt = "received_at"
    }

    public func expired(at nowNanos: Int64) -> Bool { expire <= nowNanos }

    /// The metric's peer as a string in JSON (as ipfs-cluster writes a peer ID).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let peerText = try c.decode(String.self, forKey: .peer)
        do {
            peer = try PeerID(peerText)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .peer, in: c, debugDescription: "\(peerText.debugDescription) is not a peer ID")
        }
        value = try c.decodeIfPresent(String.self, forKey: .value) ?? ""
        expire = try c.decodeIfPresent(Int64.self, forKey: .expire) ?? 0
        valid = try c.decodeIfPresent(Bool.self, forKey: .valid) ?? false
        weight = try c.decodeIfPresent(Int64.self, forKey: .weight) ?? 0
        partitionable = try c.decodeIfPresent(Bool.self, forKey: .partitionable) ?? false
        receivedAt = try c.decodeIfPresent(Int64.self, forKey: .receivedAt) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(peer.description, forKey: .peer)
        try c.encode(value, forKey: .value)
        try c.encode(expire, forKey: .expire)
        try c.encode(valid, forKey: .valid)
        try c.encode(weight, forKey: .weight)
        try c.encode(partitionable, forKey: .partitionable)
        try c.encode(receivedAt, forKey: .receivedAt)
    }
}

/// A metric that expired without being renewed: its peer may be down. JSON: the metric's
/// fields and `triggered_at` (RFC 3339), as ipfs-cluster's `api.Alert`.
public struct Alert: Codable, Hashable, Sendable {
    public var metric: Metric
    /// Unix milliseconds when the alert was raised.
    public var triggeredAt: Timestamp

    public init(metric: Metric, triggeredAt: Timestamp) {
        self.metric = metric
        self.triggeredAt = triggeredAt
    }

    enum CodingKeys: String, CodingKey { case triggeredAt = "triggered_at" }

    public init(from decoder: any Decoder) throws {
        metric = try Metric(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .triggeredAt)
        guard let t = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(forKey: .triggeredAt, in: c, debugDescription: "\(text.debugDescription) is not an RFC 3339 time")
        }
        triggeredAt = t
    }

    public func encode(to encoder: any Encoder) throws {
        try metric.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(triggeredAt.rfc3339, forKey: .triggeredAt)
    }
}
