import Libp2pCore
import Multiformats
import Sodium

extension Libp2pHost {
    /// Messages read from one identify stream (go-libp2p sends its signed record as a second one).
    static let maxIdentifyMessages = 4

    func registerBuiltinHandlers() {
        setStreamHandler(IdentifyMessage.protocolID) { [weak self] stream in await self?.answerIdentify(stream) }
        setStreamHandler(IdentifyMessage.pushProtocolID) { [weak self] stream in
            guard let self, let m = try? await Libp2pHost.readIdentify(stream) else { return await stream.reset() }
            record(m, from: stream.remotePeer)
            await stream.closeWrite()
        }
        setStreamHandler(Libp2pPing.protocolID) { stream in await Libp2pHost.answerPing(stream) }
    }

    /// This host's identify message for a connection from `observed`.
    func identifyMessage(observed: Multiaddr) -> IdentifyMessage {
        let (protocols, listen) = state.withLockedValue { s in (s.handlers.keys.sorted(), s.listenAddresses) }
        return IdentifyMessage(
            publicKey: try! LibP2PPublicKey(type: .ed25519, data: noiseIdentity.identity.publicKey.bytes).protobuf,
            listenAddresses: settings.announce.isEmpty ? listen : settings.announce, protocols: protocols,
            observedAddress: observed, agentVersion: settings.agentVersion)
    }

    func answerIdentify(_ stream: Libp2pStream) async {
        let observed = stream.context.connection.remoteAddress
        do {
            try await stream.writeMessage(identifyMessage(observed: observed).encoded)
            await stream.closeWrite()
        } catch {
            await stream.reset()
        }
    }

    /// Asks `peer` who it is over `connection`, and records the answer.
    func identify(over connection: Libp2pConnection, peer: PeerID) async {
        do {
            let stream = try await connection.eventLoop.flatSubmit { connection.openStream([IdentifyMessage.protocolID]) }.get()
            let message = try await Libp2pHost.readIdentify(stream)
            await stream.closeWrite()
            record(message, from: peer)
            logger.debug("libp2p identify", metadata: ["peer": "\(peer)", "agent": "\(message.agentVersion ?? "")"])
        } catch {
            logger.debug("libp2p identify failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    /// Reads identify messages to EOF and merges them (repeated fields append, others replace).
    static func readIdentify(_ stream: Libp2pStream) async throws -> IdentifyMessage {
        var merged = IdentifyMessage(publicKey: nil, listenAddresses: [], protocols: [], observedAddress: nil, protocolVersion: nil, agentVersion: nil)
        for n in 0..<maxIdentifyMessages {
            let bytes: [UInt8]?
            do {
                bytes = try await stream.readMessage(maxLength: IdentifyMessage.maxBytes)
            } catch let error as Libp2pError where error.code == .streamClosed && n > 0 {
                break  // a peer that resets after its message has said what it had to say
            }
            guard let bytes else { break }
            let m = try IdentifyMessage(decoding: bytes)
            merged.publicKey = m.publicKey ?? merged.publicKey
            merged.listenAddresses += m.listenAddresses
            merged.protocols += m.protocols
            merged.observedAddress = m.observedAddress ?? merged.observedAddress
            merged.protocolVersion = m.protocolVersion ?? merged.protocolVersion
            merged.agentVersion = m.agentVersion ?? merged.agentVersion
        }
        guard merged.protocols.count <= IdentifyMessage.maxProtocols, merged.listenAddresses.count <= IdentifyMessage.maxAddresses else {
            throw Libp2pError(.tooLarge, "\(stream.remotePeer) sent identify messages listing too many protocols or addresses")
        }
        return merged
    }

    /// Echoes every 32 bytes until the peer closes.
    static func answerPing(_ stream: Libp2pStream) async {
        var pending: [UInt8] = []
        do {
            while let chunk = try await stream.read() {
                pending += chunk
                let whole = pending.count / Libp2pPing.size * Libp2pPing.size
                guard whole > 0 else { continue }
                try await stream.write(Array(pending.prefix(whole)))
                pending.removeFirst(whole)
                if pending.count > 4096 { break }
            }
            await stream.closeWrite()
        } catch {
            await stream.reset()
        }
    }
}
