import Libp2pCore
public import Multiformats

extension Libp2pHost {
    /// Every protocol an inbound stream may negotiate: the registered handlers.
    var inboundProtocols: Set<String> { state.withLockedValue { Set($0.handlers.keys) } }

    /// A connection finished its handshake: record it, announce a new peer, run identify.
    func connectionReady(_ connection: Libp2pConnection) {
        guard let peer = connection.remotePeer else { return }
        let first = state.withLockedValue { s -> Bool in
            s.peers[peer, default: PeerRecord()].connections.append(connection)
            return s.peers[peer]!.connections.count == 1
        }
        if first { emit(.connected(peer)) }
        Task { await self.identify(over: connection, peer: peer) }
    }

    /// A ready connection closed: forget it; announce the peer gone with its last connection.
    func connectionClosed(_ connection: Libp2pConnection) {
        guard let peer = connection.remotePeer else { return }
        let last = state.withLockedValue { s -> Bool in
            guard var record = s.peers[peer] else { return false }
            let before = record.connections.count
            record.connections.removeAll { $0 === connection }
            s.peers[peer] = record
            return before > 0 && record.connections.isEmpty
        }
        if last { emit(.disconnected(peer)) }
    }

    /// Runs the handler of a negotiated inbound stream on a new task.
    func dispatch(_ stream: Libp2pStream) {
        guard let handler = state.withLockedValue({ $0.handlers[stream.protocolID] }) else {
            Task { await stream.reset() }
            return
        }
        Task { await handler(stream) }
    }

    /// Stores what a peer said about itself in identify (or a push).
    func record(_ message: IdentifyMessage, from peer: PeerID) {
        let waiters = state.withLockedValue { s in
            var r = s.peers[peer, default: PeerRecord()]
            let waiters = r.identifyWaiters
            r.identifyWaiters = []
            r.identified = true
            if let a = message.agentVersion { r.agentVersion = a }
            if !message.protocols.isEmpty { r.protocols = message.protocols }
            let tcp = message.listenAddresses.filter { (try? Libp2pHost.tcpTarget($0, purpose: "")) != nil }
            for a in tcp.prefix(8) where !r.addresses.contains(a) { r.addresses.append(a) }
            s.peers[peer] = r
            return waiters
        }
        for w in waiters { w.resume() }
    }

    /// Returns once identify with `peer` has finished (at once if it has).
    func identified(_ peer: PeerID) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLockedValue { s -> Bool in
                if s.peers[peer]?.identified == true { return true }
                s.peers[peer, default: PeerRecord()].identifyWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }
}

extension Libp2pHost {
    /// Returns once identify with `peer` has finished (checked every 50 ms), or after
    /// `timeout`; whether it finished. Never leaves a waiter behind.
    public func waitForIdentify(_ peer: PeerID, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if state.withLockedValue({ $0.peers[peer]?.identified == true }) { return true }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The addresses known for `peer` (dialled, or from identify and ``learn(_:for:)``).
    public func knownAddresses(of peer: PeerID) -> [Multiaddr] {
        state.withLockedValue { $0.peers[peer]?.addresses ?? [] }
    }

    /// Remembers TCP addresses of `peer` (from the DHT) so ``newStream(to:protocols:)`` can dial
    /// it; at most 8 a peer.
    public func learn(_ addresses: [Multiaddr], for peer: PeerID) {
        guard peer != peerID else { return }
        let tcp = addresses.compactMap { a -> Multiaddr? in
            guard (try? Libp2pHost.tcpTarget(a, purpose: "")) != nil else { return nil }
            return a.withoutPeerID ?? a
        }
        guard !tcp.isEmpty else { return }
        state.withLockedValue { s in
            var r = s.peers[peer, default: PeerRecord()]
            for a in tcp where !r.addresses.contains(a) && r.addresses.count < 8 { r.addresses.append(a) }
            s.peers[peer] = r
        }
    }
}
