import Bitswap
import Logging
public import Multiformats

extension BitswapService {
    /// Reads one inbound stream until EOF or error; every message is handled in order.
    ///
    /// - At most ``BitswapServiceSettings/maxInboundStreamsPerPeer`` streams of one peer are
    ///   read at once; further ones wait in line, first come first read, and are read as slots
    ///   free. kubo (boxo) sends every response message on a stream of its own, several at once,
    ///   so a stream over the limit must wait: resetting it loses the blocks it carries.
    /// - A stream that finds ``BitswapServiceSettings/maxWaitingInboundStreamsPerPeer`` streams
    ///   of its peer already waiting is reset. A waiting stream is not read, so it holds at most
    ///   its yamux receive window; only read streams assemble messages (4 MiB each at most).
    /// - ``stop()`` resets every waiting stream.
    func readInbound(_ stream: Libp2pStream) async {
        let peer = stream.remotePeer
        guard await takeInboundSlot(peer) else {
            if !stopped {
                logger.info("too many bitswap streams from one peer: stream reset", metadata: ["remote": "\(peer)"])
            }
            await stream.reset()
            return
        }
        defer { releaseInboundSlot(peer) }
        guard !stopped else { return await stream.reset() }
        peerConnected(peer)
        while true {
            let bytes: [UInt8]?
            do {
                bytes = try await stream.readMessage(maxLength: BitswapMessage.maxMessageBytes)
            } catch {
                logger.debug("bitswap inbound stream ended", metadata: ["remote": "\(peer)", "error": "\(error)"])
                await stream.reset()
                return
            }
            guard let bytes else { return }
            do {
                handle(try BitswapMessage(decoding: bytes), from: peer)
            } catch {
                logger.info("malformed bitswap message: stream reset", metadata: ["remote": "\(peer)", "error": "\(error)"])
                await stream.reset()
                return
            }
        }
    }

    /// Inbound streams of `peer` being read now.
    public func readingInboundStreams(_ peer: PeerID) -> Int { inboundStreams[peer] ?? 0 }

    /// Inbound streams of `peer` waiting for a reading slot.
    public func waitingInboundStreams(_ peer: PeerID) -> Int { inboundWaiters[peer]?.count ?? 0 }

    /// A reading slot for one of `peer`'s streams, waiting in line while all are taken; false
    /// when the line is full or the service stopped (no slot is held then).
    private func takeInboundSlot(_ peer: PeerID) async -> Bool {
        guard !stopped else { return false }
        if inboundStreams[peer, default: 0] < settings.maxInboundStreamsPerPeer {
            inboundStreams[peer, default: 0] += 1
            return true
        }
        guard inboundWaiters[peer, default: []].count < settings.maxWaitingInboundStreamsPerPeer else { return false }
        return await withCheckedContinuation { inboundWaiters[peer, default: []].append($0) }
    }

    /// Hands the slot to the first stream in line, or frees it.
    private func releaseInboundSlot(_ peer: PeerID) {
        if var line = inboundWaiters[peer], !line.isEmpty {
            let next = line.removeFirst()
            inboundWaiters[peer] = line.isEmpty ? nil : line
            next.resume(returning: true)
            return
        }
        inboundStreams[peer, default: 1] -= 1
        if inboundStreams[peer] == 0 { inboundStreams[peer] = nil }
    }
}
