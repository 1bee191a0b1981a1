public import Multiformats

/// A Kademlia DHT message (`/ipfs/kad/1.0.0`, `/ipfs/lan/kad/1.0.0`; go-libp2p-kad-dht's
/// `pb.Message`), each sent as an unsigned-varint length-prefixed protobuf:
///
///     Message { MessageType type = 1; bytes key = 2; Record record = 3;
///               repeated Peer closerPeers = 8; repeated Peer providerPeers = 9;
///               int32 clusterLevelRaw = 10; }
///     Peer    { bytes id = 1; repeated bytes addrs = 2; ConnectionType connection = 3; }
///     Record  { bytes key = 1; bytes value = 2; string timeReceived = 5; }
///
/// Decoding is bounded (``maxBytes``, ``maxPeers``, ``maxAddresses`` per peer, key and
/// record sizes); unknown fields are skipped; a peer whose ID does not parse is an error, an
/// address that does not parse is dropped (peers announce transports this node does not know).
public struct DHTMessage: Sendable, Equatable {
    public enum MessageType: UInt64, Sendable {
        case putValue = 0, getValue = 1, addProvider = 2, getProviders = 3, findNode = 4, ping = 5
    }

    public enum Connection: UInt64, Sendable {
        case notConnected = 0, connected = 1, canConnect = 2, cannotConnect = 3
    }

    public struct Peer: Sendable, Equatable {
        public var id: PeerID
        public var addresses: [Multiaddr]
        public var connection: Connection
        public init(id: PeerID, addresses: [Multiaddr], connection: Connection = .notConnected) {
            self.id = id
            self.addresses = addresses
            self.connection = connection
        }
    }

    public struct Record: Sendable, Equatable {
        public var key: [UInt8]
        public var value: [UInt8]
        public var timeReceived: String
        public init(key: [UInt8], value: [UInt8], timeReceived: String = "") {
            self.key = key
            self.value = value
            self.timeReceived = timeReceived
        }
    }

    public static let maxBytes = 4 << 20
    public static let maxKeyBytes = 1024
    public static let maxPeers = 256
    public static let maxAddresses = 64
    public static let maxRecordValueBytes = 64 << 10

    public var type: MessageType
    public var key: [UInt8]
    public var record: Record?
    public var closerPeers: [Peer]
    public var providerPeers: [Peer]
    public var clusterLevel: Int32

    public init(type: MessageType, key: [UInt8] = [], record: Record? = nil, closerPeers: [Peer] = [], providerPeers: [Peer] = [], clusterLevel: Int32 = 0) {
        self.type = type
        self.key = key
        self.record = record
        self.closerPeers = closerPeers
        self.providerPeers = providerPeers
        self.clusterLevel = clusterLevel
    }

    public func encoded() -> [UInt8] {
        var w = ProtobufWriter(capacity: 64 + 48 * (closerPeers.count + providerPeers.count))
        // go's proto3 omits a zero type (PUT_VALUE) and empty fields; field order as numbered.
        if type.rawValue != 0 { w.varint(1, type.rawValue) }
        if !key.isEmpty { w.bytes(2, key) }
        if let record {
            w.message(3) { r in
                if !record.key.isEmpty { r.bytes(1, record.key) }
                if !record.value.isEmpty { r.bytes(2, record.value) }
                if !record.timeReceived.isEmpty { r.string(5, record.timeReceived) }
            }
        }
        for p in closerPeers { Self.write(p, field: 8, into: &w) }
        for p in providerPeers { Self.write(p, field: 9, into: &w) }
        if clusterLevel != 0 { w.varint(10, UInt64(UInt32(bitPattern: clusterLevel))) }
        return w.bytes
    }

    private static func write(_ p: Peer, field: UInt64, into w: inout ProtobufWriter) {
        w.message(field) { m in
            m.bytes(1, p.id.bytes)
            for a in p.addresses { m.bytes(2, a.bytes) }
            if p.connection.rawValue != 0 { m.varint(3, p.connection.rawValue) }
        }
    }

    public init(decoding bytes: [UInt8]) throws(MultiformatsError) {
        guard bytes.count <= Self.maxBytes else {
            throw MultiformatsError(.tooLong, "DHT message of \(bytes.count) bytes exceeds \(Self.maxBytes)")
        }
        var r = ProtobufReader(bytes, what: "DHT message")
        var type = MessageType.putValue
        var key: [UInt8] = []
        var record: Record?
        var closer: [Peer] = [], providers: [Peer] = []
        var level: Int32 = 0
        while let (field, value) = try r.next() {
            switch field {
            case 1:
                guard case .varint(let v) = value else { throw MultiformatsError(.nonCanonical, "DHT message: type must be a varint") }
                guard let t = MessageType(rawValue: v) else { throw MultiformatsError(.nonCanonical, "DHT message: unknown type \(v)") }
                type = t
            case 2: key = try r.bytes(value, field: "key", limit: Self.maxKeyBytes)
            case 3: record = try Self.record(r, value)
            case 8, 9:
                guard closer.count + providers.count < Self.maxPeers else {
                    throw MultiformatsError(.tooLong, "DHT message: more than \(Self.maxPeers) peers")
                }
                let p = try Self.peer(r, value)
                if field == 8 { closer.append(p) } else { providers.append(p) }
            case 10:
                guard case .varint(let v) = value else { throw MultiformatsError(.nonCanonical, "DHT message: clusterLevelRaw must be a varint") }
                level = Int32(truncatingIfNeeded: v)
            default: continue
            }
        }
        self.init(type: type, key: key, record: record, closerPeers: closer, providerPeers: providers, clusterLevel: level)
    }

    private static func range(_ value: ProtobufReader.Value, _ what: String) throws(MultiformatsError) -> Range<Int> {
        guard case .bytes(let range) = value else { throw MultiformatsError(.nonCanonical, "DHT message: \(what) must be length-delimited") }
        return range
    }

    private static func peer(_ outer: ProtobufReader, _ value: ProtobufReader.Value) throws(MultiformatsError) -> Peer {
        var r = ProtobufReader(outer.bytes, range: try range(value, "peer"), what: "DHT peer")
        var id: PeerID?
        var addresses: [Multiaddr] = []
        var seen = 0
        var connection = Connection.notConnected
        while let (field, value) = try r.next() {
            switch field {
            case 1: id = try PeerID(bytes: try r.bytes(value, field: "id", limit: 128))
            case 2:
                seen += 1
                guard seen <= Self.maxAddresses else { throw MultiformatsError(.tooLong, "DHT peer: more than \(Self.maxAddresses) addresses") }
                if let a = try? Multiaddr(bytes: try r.bytes(value, field: "addr", limit: 1024)) { addresses.append(a) }
            case 3:
                guard case .varint(let v) = value else { throw MultiformatsError(.nonCanonical, "DHT peer: connection must be a varint") }
                connection = Connection(rawValue: v) ?? .notConnected
            default: continue
            }
        }
        guard let id else { throw MultiformatsError(.invalidPeerID, "DHT peer without an id") }
        return Peer(id: id, addresses: addresses, connection: connection)
    }

    private static func record(_ outer: ProtobufReader, _ value: ProtobufReader.Value) throws(MultiformatsError) -> Record {
        var r = ProtobufReader(outer.bytes, range: try range(value, "record"), what: "DHT record")
        var rec = Record(key: [], value: [])
        while let (field, value) = try r.next() {
            switch field {
            case 1: rec.key = try r.bytes(value, field: "record key", limit: Self.maxKeyBytes)
            case 2: rec.value = try r.bytes(value, field: "record value", limit: Self.maxRecordValueBytes)
            case 5: rec.timeReceived = String(decoding: try r.bytes(value, field: "timeReceived", limit: 64), as: UTF8.self)
            default: continue
            }
        }
        return rec
    }
}
