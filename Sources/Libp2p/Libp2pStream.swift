public import Multiformats
import NIOCore
import NIOConcurrencyHelpers

/// One negotiated libp2p stream (a yamux stream after multistream-select).
///
/// - Reads and writes hop to the connection's event loop; one task reads at a time.
/// - Writes suspend while the peer's window is exhausted (yamux flow control).
/// - Dropping the last reference resets the stream unless both sides closed it.
public final class Libp2pStream: Sendable {
    public let protocolID: String
    public let remotePeer: PeerID
    let context: Libp2pStreamContext
    private let leftover = NIOLockedValueBox<[UInt8]>([])

    init(protocolID: String, remotePeer: PeerID, context: Libp2pStreamContext) {
        self.protocolID = protocolID
        self.remotePeer = remotePeer
        self.context = context
    }

    deinit {
        let c = context
        c.connection.eventLoop.execute { c.connection.release(c) }
    }

    /// The next bytes the peer sent; nil when it half-closed (EOF). Throws when reset / closed.
    public func read() async throws -> [UInt8]? {
        let buffered = leftover.withLockedValue { l -> [UInt8]? in
            guard !l.isEmpty else { return nil }
            defer { l = [] }
            return l
        }
        if let buffered { return buffered }
        let c = context
        return try await c.connection.eventLoop.flatSubmit { c.connection.read(c) }.get()
    }

    /// One unsigned-varint length-prefixed message; nil at a clean EOF before a message starts;
    /// throws on a message over `maxLength` or EOF inside one.
    public func readMessage(maxLength: Int) async throws -> [UInt8]? {
        var buffer: [UInt8] = []
        while true {
            if let (length, start) = try Libp2pStream.lengthPrefix(buffer, maxLength: maxLength), buffer.count - start >= length {
                let message = Array(buffer[start..<(start + length)])
                let rest = Array(buffer[(start + length)...])
                if !rest.isEmpty { leftover.withLockedValue { $0 = rest + $0 } }
                return message
            }
            guard let chunk = try await read() else {
                if buffer.isEmpty { return nil }
                throw Libp2pError(.streamClosed, "\(remotePeer) closed stream \(protocolID) inside a message")
            }
            buffer += chunk
        }
    }

    /// The message length and where it starts, or nil when the varint is incomplete.
    static func lengthPrefix(_ buffer: [UInt8], maxLength: Int) throws(Libp2pError) -> (Int, Int)? {
        var value: UInt64 = 0
        for i in 0..<min(buffer.count, 10) {
            value |= UInt64(buffer[i] & 0x7f) << (7 * UInt64(i))
            if buffer[i] & 0x80 == 0 {
                guard value <= UInt64(maxLength) else {
                    throw Libp2pError(.tooLarge, "message of \(value) bytes exceeds the limit of \(maxLength)")
                }
                return (Int(value), i + 1)
            }
            if i >= 8 { throw Libp2pError(.tooLarge, "message length varint exceeds the limit of \(maxLength)") }
        }
        return nil
    }

    /// Writes; suspends while the peer's flow-control window is exhausted (backpressure).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let c = context
        try await c.connection.eventLoop.flatSubmit { c.connection.write(c, bytes) }.get()
    }

    /// Varint length + message.
    public func writeMessage(_ message: [UInt8]) async throws {
        try await write(Varint.encode(UInt64(message.count)) + message)
    }

    /// Half-close (yamux FIN).
    public func closeWrite() async {
        let c = context
        try? await c.connection.eventLoop.submit { c.connection.closeWrite(c) }.get()
    }

    /// Abort both directions (yamux RST).
    public func reset() async {
        let c = context
        try? await c.connection.eventLoop.submit { c.connection.reset(c) }.get()
    }
}
