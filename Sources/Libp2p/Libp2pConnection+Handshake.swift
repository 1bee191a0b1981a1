import Libp2pCore
import Multiformats
import Sodium

extension Libp2pConnection {
    func securityNegotiated(_ outcome: MultistreamSelect.Outcome) {
        switch outcome {
        case .pending(let send):
            sendRaw(send)
        case .failed(let error, let send):
            sendRaw(send)
            fail(Libp2pError(.handshakeFailed, "\(describe()): security negotiation: \(error.message)"))
        case .agreed(_, let send, let leftover):
            sendRaw(send)
            var noise = Libp2pNoiseHandshake(
                initiator: direction == .outbound, local: host.noiseIdentity, ephemeral: .generate(), expectedPeer: expectedPeer)
            sendRaw(noise.start())
            phase = .noise(noise)
            if !leftover.isEmpty { receive(leftover) }
        }
    }

    func noiseProgressed(_ outcome: Libp2pNoiseHandshake.Outcome) {
        switch outcome {
        case .pending(let send):
            sendRaw(send)
        case .failed(let error):
            fail(Libp2pError(.handshakeFailed, "\(describe()): Noise handshake: \(error.message)"))
        case .complete(let send, let remote, _, let transport, let leftover):
            sendRaw(send)
            remotePeer = remote
            cipher = transport
            let (select, first): (MultistreamSelect, [UInt8])
            if direction == .outbound {
                (select, first) = MultistreamSelect.initiator(proposing: [YamuxSession.protocolID])
            } else {
                (select, first) = MultistreamSelect.responder(supporting: [YamuxSession.protocolID])
            }
            phase = .muxerSelect(select)
            sendEncrypted(first)
            if !leftover.isEmpty { receive(leftover) }
        }
    }

    func muxerNegotiated(_ outcome: MultistreamSelect.Outcome) {
        switch outcome {
        case .pending(let send):
            sendEncrypted(send)
        case .failed(let error, let send):
            sendEncrypted(send)
            fail(Libp2pError(.handshakeFailed, "\(describe()): muxer negotiation: \(error.message)"))
        case .agreed(_, let send, let leftover):
            sendEncrypted(send)
            session = YamuxSession(
                isDialer: direction == .outbound,
                limits: .init(maxStreams: host.settings.maxStreamsPerConnection, receiveWindow: UInt32(clamping: host.settings.streamReceiveWindow)))
            phase = .muxed
            becameReady(remotePeer!)
            if !leftover.isEmpty { receivePlaintext(leftover) }
        }
    }
}
