import Bitswap
import Logging
import Multiformats

extension BitswapService {
    func perform(_ actions: [BitswapServerAction]) {
        for action in actions {
            switch action {
            case .send(let peer, let message): send(message, to: peer)
            case .lookUp(let cids):
                let lookup = self.lookup
                let target = settings.server.targetMessageBytes
                Task { [weak self] in
                    var batch: [(CID, [UInt8]?)] = []
                    var bytes = 0
                    for (i, cid) in cids.enumerated() {
                        let block = await lookup(cid).flatMap { $0.count <= BitswapMessage.maxBlockBytes ? $0 : nil }
                        batch.append((cid, block))
                        bytes += block?.count ?? 0
                        if bytes >= target || batch.count >= 64 || i == cids.count - 1 {
                            guard let self else { return }
                            await self.lookedUp(batch)
                            batch = []
                            bytes = 0
                        }
                    }
                }
            }
        }
    }

    func perform(_ actions: [BitswapClientAction]) {
        for action in actions {
            switch action {
            case .send(let peer, let message): send(message, to: peer)
            case .received(let cid, let bytes, _, let sessions):
                if sessions.contains(fetchSession) { resumeWaiters(cid, bytes) }
                for id in sessions { sessionStreams[id]?.yield(.block(cid, bytes)) }
            case .notFound(let cid, let sessions):
                if sessions.contains(fetchSession) { resumeWaiters(cid, nil) }
                for id in sessions { sessionStreams[id]?.yield(.notFound(cid)) }
            case .rejected(let peer, let why):
                logger.debug("bitswap block not taken", metadata: ["remote": "\(peer)", "why": "\(why)"])
            }
        }
    }

    /// Lookups come back in batches, so the answers to small blocks share messages.
    private func lookedUp(_ results: [(CID, [UInt8]?)]) { perform(engine.onLookup(results)) }

    private func send(_ message: BitswapMessage, to peer: PeerID) {
        guard let sender = senders[peer] else {
            // The peer's stream is gone; what the engine handed out is no longer outstanding.
            perform(engine.onMessageSent(to: peer, message))
            return
        }
        if !sender.enqueue(message) {
            logger.warning("bitswap peer does not read its messages: dropped", metadata: ["remote": "\(peer)"])
            sender.close()
            senders[peer] = nil
            engine.onPeerDisconnected(peer)
            perform(client.onPeerDisconnected(peer, now: now))
        }
    }
}
