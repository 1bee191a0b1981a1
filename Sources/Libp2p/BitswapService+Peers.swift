import Bitswap
import Logging
import Multiformats

extension BitswapService {
    /// A peer connected, or sent us a bitswap stream: open our outbound stream to it.
    func peerConnected(_ peer: PeerID) {
        guard senders[peer] == nil, peer != host.peerID else { return }
        let sender = BitswapPeerSender(peer: peer, maxQueued: settings.maxQueuedMessagesPerPeer)
        senders[peer] = sender
        let host = self.host
        sender.run(
            open: { try await host.newStream(to: peer, protocols: BitswapProtocolVersion.protocolIDs) },
            opened: { [weak self] version in await self?.streamOpened(peer, version: version, sender: sender) },
            written: { [weak self] message in await self?.messageWritten(peer, message) },
            failed: { [weak self] error in await self?.senderFailed(peer, sender: sender, error: error) })
    }

    func peerDisconnected(_ peer: PeerID) {
        senders.removeValue(forKey: peer)?.close()
        engine.onPeerDisconnected(peer)
        perform(client.onPeerDisconnected(peer, now: now))
    }

    private func streamOpened(_ peer: PeerID, version: BitswapProtocolVersion, sender: BitswapPeerSender) {
        guard senders[peer] === sender else { return }
        logger.debug("bitswap stream open", metadata: ["remote": "\(peer)", "protocol": "\(version.rawValue)"])
        perform(client.onPeerConnected(peer, version: version, now: now))
    }

    private func messageWritten(_ peer: PeerID, _ message: BitswapMessage) {
        guard !message.payload.isEmpty || !message.blocks.isEmpty || !message.blockPresences.isEmpty else { return }
        perform(engine.onMessageSent(to: peer, message))
    }

    /// Our stream to `peer` could not be opened or written: the peer leaves bitswap until it
    /// reconnects or opens a stream to us.
    private func senderFailed(_ peer: PeerID, sender: BitswapPeerSender, error: any Error) {
        guard senders[peer] === sender else { return }
        logger.debug("bitswap stream to peer failed", metadata: ["remote": "\(peer)", "error": "\(error)"])
        senders[peer] = nil
        sender.close()
        engine.onPeerDisconnected(peer)
        perform(client.onPeerDisconnected(peer, now: now))
    }

    func handle(_ message: BitswapMessage, from peer: PeerID) {
        perform(engine.onMessage(from: peer, message))
        perform(client.onMessage(from: peer, message, now: now))
    }
}
