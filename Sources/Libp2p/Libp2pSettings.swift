public import Multiformats

/// The libp2p host's settings (see Specs/libp2p.md).
public struct Libp2pSettings: Sendable {
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/0` (port 0: the OS picks).
    public var listen: [Multiaddr]
    /// kubo's `Addresses.Announce`: replaces the listen addresses in identify when set.
    public var announce: [Multiaddr] = []
    /// Sent in identify, e.g. "pinmesh/0.x".
    public var agentVersion: String
    /// The bound on a dial (TCP, security and muxer) and on an inbound connection's handshake.
    public var dialTimeout: Duration = .seconds(10)
    /// Inbound connections beyond this are refused (closed at accept).
    public var maxConnections: Int = 512
    /// Yamux streams per connection, both directions together.
    public var maxStreamsPerConnection: Int = 256
    /// The yamux window each stream grants its peer (at least the spec's 256 KiB): the most a
    /// stream holds unread. kubo grows its own up to 16 MiB; 4 MiB keeps a 256 KiB bitswap
    /// block and the next ones in flight on loopback while bounding memory per stream.
    public var streamReceiveWindow: Int = 4 << 20

    public init(listen: [Multiaddr], agentVersion: String) {
        self.listen = listen
        self.agentVersion = agentVersion
    }
}

public enum Libp2pPeerEvent: Sendable, Equatable {
    /// After the secure channel and muxer are up (first connection to the peer).
    case connected(PeerID)
    /// The last connection to the peer closed.
    case disconnected(PeerID)
}

/// One open connection as ``Libp2pHost/connectedPeers()`` lists it.
public struct Libp2pPeerInfo: Sendable, Equatable {
    public enum Direction: Sendable, Equatable {
        case inbound
        case outbound
    }

    public let peer: PeerID
    /// The remote address of the connection, without /p2p/.
    public let address: Multiaddr
    public let direction: Direction
    /// From identify; nil until it finished.
    public let agentVersion: String?
}
