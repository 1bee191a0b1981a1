public import Multiformats

/// identify 1.0.0's message (`/ipfs/id/1.0.0`, pushed on `/ipfs/id/push/1.0.0`):
/// `publicKey = 1` (protobuf PublicKey), `listenAddrs = 2` (repeated binary multiaddrs),
/// `protocols = 3` (repeated strings), `observedAddr = 4`, `protocolVersion = 5`,
/// `agentVersion = 6`; `signedPeerRecord = 8` and unknown fields are skipped.
///
/// - The whole message is at most ``maxBytes``; at most ``maxAddresses`` addresses and
///   ``maxProtocols`` protocols of ``maxProtocolBytes`` each; versions at most ``maxVersionBytes``.
/// - A listen or observed address that does not parse is dropped, not fatal (peers announce
///   transports this node does not know).
public struct IdentifyMessage: Sendable, Equatable {
    public static let protocolID = "/ipfs/id/1.0.0"
    public static let pushProtocolID = "/ipfs/id/push/1.0.0"
    public static let protocolVersionValue = "ipfs/0.1.0"
    public static let maxBytes = 64 * 1024
    public static let maxAddresses = 128
    public static let maxProtocols = 256
    public static let maxProtocolBytes = 256
    public static let maxVersionBytes = 256

    public var publicKey: [UInt8]?
    public var listenAddresses: [Multiaddr]
    public var protocols: [String]
    public var observedAddress: Multiaddr?
    public var protocolVersion: String?
    public var agentVersion: String?

    public init(
        publicKey: [UInt8]?, listenAddresses: [Multiaddr], protocols: [String], observedAddress: Multiaddr?,
        protocolVersion: String? = IdentifyMessage.protocolVersionValue, agentVersion: String?
    ) {
        self.publicKey = publicKey
        self.listenAddresses = listenAddresses
        self.protocols = protocols
        self.observedAddress = observedAddress
        self.protocolVersion = protocolVersion
        self.agentVersion = agentVersion
    }

    public var encoded: [UInt8] {
        var w = ProtobufWriter(capacity: 256)
        if let protocolVersion { w.string(5, protocolVersion) }
        if let agentVersion { w.string(6, agentVersion) }
        if let publicKey { w.bytes(1, publicKey) }
        for a in listenAddresses { w.bytes(2, a.bytes) }
        if let observedAddress { w.bytes(4, observedAddress.bytes) }
        for p in protocols { w.string(3, p) }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(Libp2pProtocolError) {
        guard bytes.count <= IdentifyMessage.maxBytes else {
            throw Libp2pProtocolError(.tooLarge, "identify message of \(bytes.count) bytes exceeds \(IdentifyMessage.maxBytes)")
        }
        self.init(publicKey: nil, listenAddresses: [], protocols: [], observedAddress: nil, protocolVersion: nil, agentVersion: nil)
        do throws(MultiformatsError) {
            var r = ProtobufReader(bytes, what: "identify message")
            while let (field, value) = try r.next() {
                try read(field, value, &r)
            }
        } catch {
            throw Libp2pProtocolError(error.code == .tooLong ? .tooLarge : .malformed, error.message)
        }
    }

    private mutating func read(_ field: UInt64, _ value: ProtobufReader.Value, _ r: inout ProtobufReader) throws(MultiformatsError) {
        switch field {
        case 1: publicKey = try r.bytes(value, field: "publicKey", limit: NoiseHandshakePayload.maxKeyBytes)
        case 2:
            let raw = try r.bytes(value, field: "listenAddrs", limit: Multiaddr.maxBinaryBytes)
            guard listenAddresses.count < IdentifyMessage.maxAddresses else {
                throw MultiformatsError(.tooLong, "identify message lists more than \(IdentifyMessage.maxAddresses) addresses")
            }
            if let a = try? Multiaddr(bytes: raw) { listenAddresses.append(a) }
        case 3:
            guard protocols.count < IdentifyMessage.maxProtocols else {
                throw MultiformatsError(.tooLong, "identify message lists more than \(IdentifyMessage.maxProtocols) protocols")
            }
            protocols.append(try r.string(value, field: "protocols", limit: IdentifyMessage.maxProtocolBytes))
        case 4: observedAddress = try? Multiaddr(bytes: try r.bytes(value, field: "observedAddr", limit: Multiaddr.maxBinaryBytes))
        case 5: protocolVersion = try r.string(value, field: "protocolVersion", limit: IdentifyMessage.maxVersionBytes)
        case 6: agentVersion = try r.string(value, field: "agentVersion", limit: IdentifyMessage.maxVersionBytes)
        default: break
        }
    }
}

/// ping 1.0.0 (`/ipfs/ping/1.0.0`): the dialer writes 32 random bytes, the listener echoes them;
/// repeated on the same stream.
public enum Libp2pPing {
    public static let protocolID = "/ipfs/ping/1.0.0"
    public static let size = 32
}
