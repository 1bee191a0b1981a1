public import Multiformats

/// Where a CID stands on one peer: ipfs-cluster's `TrackerStatus` names, exactly as its API
/// writes them.
public enum TrackerStatus: String, Hashable, Sendable, CaseIterable, Codable {
    case undefined
    /// The peer did not answer a status request.
    case clusterError = "cluster_error"
    case pinError = "pin_error"
    case unpinError = "unpin_error"
    case pinned
    case pinning
    case unpinning
    case unpinned
    /// Pinned in the cluster, allocated to other peers.
    case remote
    case pinQueued = "pin_queued"
    case unpinQueued = "unpin_queued"
    case sharded
    /// Allocated here and not in progress, yet the IPFS daemon does not have it pinned.
    case unexpectedlyUnpinned = "unexpectedly_unpinned"

    /// Whether a status filter word (`?filter=`) selects this status: the names themselves plus
    /// `error` (every error) and `queued` (both queues).
    public func matches(filter: String) -> Bool {
        switch filter {
        case "error": self == .pinError || self == .unpinError || self == .clusterError || self == .unexpectedlyUnpinned
        case "queued": self == .pinQueued || self == .unpinQueued
        default: rawValue == filter
        }
    }

    public static let filterWords: Set<String> = Set(allCases.map(\.rawValue)).union(["error", "queued"])

    public var isError: Bool { matches(filter: "error") }
}

/// One peer's view of one CID (ipfs-cluster's `PinInfoShort`).
public struct PinInfoShort: Codable, Hashable, Sendable {
    public var peername: String
    public var ipfsPeerID: String?
    public var ipfsPeerAddresses: [String]?
    public var status: TrackerStatus
    public var timestamp: Timestamp
    public var error: String
    public var attemptCount: Int
    public var priorityPin: Bool

    public init(
        peername: String, status: TrackerStatus, timestamp: Timestamp, error: String = "", attemptCount: Int = 0,
        priorityPin: Bool = false, ipfsPeerID: String? = nil, ipfsPeerAddresses: [String]? = nil
    ) {
        self.peername = peername
        self.status = status
        self.timestamp = timestamp
        self.error = error
        self.attemptCount = attemptCount
        self.priorityPin = priorityPin
        self.ipfsPeerID = ipfsPeerID
        self.ipfsPeerAddresses = ipfsPeerAddresses
    }

    enum CodingKeys: String, CodingKey {
        case peername, status, timestamp, error
        case ipfsPeerID = "ipfs_peer_id", ipfsPeerAddresses = "ipfs_peer_addresses"
        case attemptCount = "attempt_count", priorityPin = "priority_pin"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peername = try c.decodeIfPresent(String.self, forKey: .peername) ?? ""
        ipfsPeerID = try c.decodeIfPresent(String.self, forKey: .ipfsPeerID)
        ipfsPeerAddresses = try c.decodeIfPresent([String].self, forKey: .ipfsPeerAddresses)
        let s = try c.decodeIfPresent(String.self, forKey: .status) ?? "undefined"
        guard let status = TrackerStatus(rawValue: s) else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: c, debugDescription: "\(s.debugDescription) is not a tracker status")
        }
        self.status = status
        timestamp = try Timestamp.decodeGo(c, .timestamp)
        error = try c.decodeIfPresent(String.self, forKey: .error) ?? ""
        attemptCount = try c.decodeIfPresent(Int.self, forKey: .attemptCount) ?? 0
        priorityPin = try c.decodeIfPresent(Bool.self, forKey: .priorityPin) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peername, forKey: .peername)
        try c.encodeIfPresent(ipfsPeerID, forKey: .ipfsPeerID)
        try c.encodeIfPresent(ipfsPeerAddresses, forKey: .ipfsPeerAddresses)
        try c.encode(status, forKey: .status)
        try c.encode(timestamp.goText, forKey: .timestamp)
        try c.encode(error, forKey: .error)
        try c.encode(attemptCount, forKey: .attemptCount)
        try c.encode(priorityPin, forKey: .priorityPin)
    }
}

/// The pin's details every status entry repeats (`cid`, `name`, `allocations`, `origins`,
/// `created`, `metadata`), as ipfs-cluster writes them in `PinInfo` and `GlobalPinInfo`.
public struct PinDetails: Codable, Hashable, Sendable {
    public var cid: CID
    public var name: String
    public var allocations: [PeerID]
    public var origins: [Multiaddr]
    public var created: Timestamp
    public var metadata: [String: String]

    public init(cid: CID, pin: Pin?) {
        self.cid = cid
        name = pin?.name ?? ""
        allocations = pin?.allocations ?? []
        origins = pin?.options.origins ?? []
        created = pin?.timestamp ?? Timestamp(unixMillis: 0)
        metadata = pin?.options.metadata ?? [:]
    }

    enum CodingKeys: String, CodingKey { case cid, name, allocations, origins, created, metadata }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cid = try c.decode(CID.self, forKey: .cid)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        allocations = try c.decodeIfPresent([PeerID].self, forKey: .allocations) ?? []
        origins = try c.decodeIfPresent([Multiaddr].self, forKey: .origins) ?? []
        created = try Timestamp.decodeGo(c, .created)
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cid, forKey: .cid)
        try c.encode(name, forKey: .name)
        try c.encode(allocations, forKey: .allocations)
        try c.encode(origins, forKey: .origins)
        try c.encode(created.goText, forKey: .created)
        if metadata.isEmpty { try c.encodeNil(forKey: .metadata) } else { try c.encode(metadata, forKey: .metadata) }
    }
}

/// One peer's status of one CID with the pin's details (ipfs-cluster's `PinInfo`: the
/// details and the `PinInfoShort` fields inline, plus `peer`).
@dynamicMemberLookup
public struct PinInfo: Codable, Hashable, Sendable {
    public var details: PinDetails
    public var peer: PeerID
    public var short: PinInfoShort

    public init(cid: CID, pin: Pin?, peer: PeerID, short: PinInfoShort) {
        details = PinDetails(cid: cid, pin: pin)
        self.peer = peer
        self.short = short
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<PinDetails, T>) -> T {
        get { details[keyPath: path] }
        set { details[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey { case peer }

    public init(from decoder: any Decoder) throws {
        details = try PinDetails(from: decoder)
        peer = try decoder.container(keyedBy: CodingKeys.self).decode(PeerID.self, forKey: .peer)
        short = try PinInfoShort(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try details.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peer, forKey: .peer)
        try short.encode(to: encoder)
    }
}

/// Every peer's status of one CID (ipfs-cluster's `GlobalPinInfo`: the details inline and
/// `peer_map`, keyed by peer ID).
@dynamicMemberLookup
public struct GlobalPinInfo: Codable, Hashable, Sendable {
    public var details: PinDetails
    public var peerMap: [String: PinInfoShort]

    public init(cid: CID, pin: Pin?) {
        details = PinDetails(cid: cid, pin: pin)
        peerMap = [:]
    }

    public init(details: PinDetails) {
        self.details = details
        peerMap = [:]
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<PinDetails, T>) -> T {
        get { details[keyPath: path] }
        set { details[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey { case peerMap = "peer_map" }

    public init(from decoder: any Decoder) throws {
        details = try PinDetails(from: decoder)
        peerMap = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([String: PinInfoShort].self, forKey: .peerMap) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        try details.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peerMap, forKey: .peerMap)
    }
}
