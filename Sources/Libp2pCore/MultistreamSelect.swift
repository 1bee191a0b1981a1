/// One multistream-select 1.0.0 negotiation, as initiator or responder.
///
/// - Initiator: sends the header and its first proposal at once, then one proposal per `na`
///   until the responder echoes one (agreed) or the list is exhausted (``Outcome/failed(_:send:)``
///   with `noProtocol`).
/// - Responder: sends the header, then answers each proposal with its echo (agreed) or `na`;
///   `ls` is answered with `na`. After ``maxProposals`` refused proposals it gives up.
/// - Both sides require the peer's first message to be the header. Bytes after the agreeing
///   message are handed back in ``Outcome/agreed(_:send:leftover:)`` (they belong to the protocol).
public struct MultistreamSelect: Sendable {
    /// Proposals a responder refuses before it gives up on the peer.
    public static let maxProposals = 32

    public enum Outcome: Sendable, Equatable {
        /// Send `send` and wait for more bytes.
        case pending(send: [UInt8])
        /// Send `send`; the protocol is agreed, `leftover` are its first bytes.
        case agreed(String, send: [UInt8], leftover: [UInt8])
        /// Send `send` (possibly empty), then close: negotiation failed.
        case failed(Libp2pProtocolError, send: [UInt8])
    }

    private enum Role: Sendable {
        case initiator(proposals: [String], next: Int)
        case responder(supported: Set<String>, refused: Int)
    }

    private var role: Role
    private var buffer: [UInt8] = []
    private var headerSeen = false
    private var done = false

    private init(role: Role) { self.role = role }

    /// An initiator proposing `protocols` in order, and the bytes to send first.
    public static func initiator(proposing protocols: [String]) -> (MultistreamSelect, [UInt8]) {
        var out = MultistreamMessage.encode(MultistreamMessage.header)
        if let first = protocols.first { MultistreamMessage.encode(first, into: &out) }
        return (MultistreamSelect(role: .initiator(proposals: protocols, next: 1)), out)
    }

    /// A responder accepting any of `supported`, and the bytes to send first.
    public static func responder(supporting supported: Set<String>) -> (MultistreamSelect, [UInt8]) {
        (MultistreamSelect(role: .responder(supported: supported, refused: 0)), MultistreamMessage.encode(MultistreamMessage.header))
    }

    /// Takes the peer's next bytes.
    public mutating func receive(_ bytes: [UInt8]) -> Outcome {
        guard !done else { return .failed(Libp2pProtocolError(.protocolViolation, "multistream negotiation already ended"), send: []) }
        buffer += bytes
        var send: [UInt8] = []
        var offset = 0
        while let result = MultistreamMessage.decode(buffer, at: offset) {
            switch result {
            case .failure(let error):
                done = true
                return .failed(error, send: send)
            case .success(let (text, end)):
                offset = end
                if let outcome = handle(text, send: &send, rest: Array(buffer[end...])) {
                    if case .pending = outcome { continue }
                    done = true
                    buffer = []
                    return outcome
                }
            }
        }
        buffer.removeFirst(offset)
        if buffer.count > MultistreamMessage.maxLength + 2 {
            done = true
            return .failed(Libp2pProtocolError(.tooLarge, "multistream message exceeds the limit of \(MultistreamMessage.maxLength)"), send: send)
        }
        return .pending(send: send)
    }

    /// Handles one message; nil to continue with the next.
    private mutating func handle(_ text: String, send: inout [UInt8], rest: [UInt8]) -> Outcome? {
        if !headerSeen {
            guard text == MultistreamMessage.header else {
                return .failed(Libp2pProtocolError(.protocolViolation, "peer does not speak \(MultistreamMessage.header) (it sent \"\(text.prefix(64))\")"), send: send)
            }
            headerSeen = true
            return nil
        }
        switch role {
        case .initiator(let proposals, let next):
            if text == MultistreamMessage.notAvailable {
                guard next < proposals.count else {
                    return .failed(Libp2pProtocolError(.noProtocol, "peer supports none of \(proposals.joined(separator: ", "))"), send: send)
                }
                MultistreamMessage.encode(proposals[next], into: &send)
                role = .initiator(proposals: proposals, next: next + 1)
                return nil
            }
            guard next >= 1, next <= proposals.count, text == proposals[next - 1] else {
                return .failed(Libp2pProtocolError(.protocolViolation, "peer answered \"\(text.prefix(64))\" to a proposal of another protocol"), send: send)
            }
            return .agreed(text, send: send, leftover: rest)
        case .responder(let supported, let refused):
            if supported.contains(text) {
                MultistreamMessage.encode(text, into: &send)
                return .agreed(text, send: send, leftover: rest)
            }
            MultistreamMessage.encode(MultistreamMessage.notAvailable, into: &send)
            guard refused + 1 < MultistreamSelect.maxProposals else {
                return .failed(Libp2pProtocolError(.noProtocol, "peer proposed \(MultistreamSelect.maxProposals) protocols, none supported"), send: send)
            }
            role = .responder(supported: supported, refused: refused + 1)
            return nil
        }
    }
}
