import Multiformats
public import CodedError

/// One RPC message inside a record:
/// `kind (1) ‖ call or stream id (varint) ‖ [method length (1) ‖ method (UTF-8)] ‖ payload`.
///
/// Kinds 1–4 are calls and one-way messages, 5–9 the multiplexed streams, 10 several frames
/// coalesced into one record (`Specs/transport.md`).
public enum RPCFrame: Hashable, Sendable {
    case request(id: UInt64, method: String, payload: [UInt8])
    case response(id: UInt64, payload: [UInt8])
    /// The call failed on the remote side; the payload is the UTF-8 reason.
    case error(id: UInt64, message: String)
    /// A one-way message: handled in arrival order, never answered (call id 0 on the wire).
    case message(method: String, payload: [UInt8])
    /// Opens stream `stream` (numbered by the opener: odd from the dialler, even from the
    /// acceptor) served by `method`, with its first bytes.
    case open(stream: UInt64, method: String, payload: [UInt8])
    /// Bytes on a stream, counted against the receiver's window.
    case data(stream: UInt64, payload: [UInt8])
    /// The receiver of a stream grants `increment` more bytes.
    case window(stream: UInt64, increment: UInt64)
    /// The sender half-closes: no more data from it on this stream.
    case close(stream: UInt64)
    /// Aborts the stream both ways, with a UTF-8 reason.
    case reset(stream: UInt64, reason: String)
    /// Several frames (none a batch) in one record: small messages written in the same
    /// event-loop turn share a record and a seal.
    case batch([RPCFrame])

    /// The longest method name.
    public static let maxMethodBytes = 64
    /// The largest RPC payload: one record less the RPC header.
    public static let maxPayload = 65536 - 1 - 10 - 1 - maxMethodBytes
    /// The largest stream data payload: one record less the data frame's header.
    public static let maxData = 65536 - 1 - 10
    /// The largest window increment.
    public static let maxWindowIncrement: UInt64 = 1 << 30
    /// The longest error or reset reason.
    public static let maxReasonBytes = 1024

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// The exact size of ``encoded()``.
    public var encodedSize: Int {
        switch self {
        case .request(let id, let method, let payload), .open(let id, let method, let payload):
            return 2 + Varint.encodedLength(id) + method.utf8.count + payload.count
        case .message(let method, let payload): return 3 + method.utf8.count + payload.count
        case .response(let id, let payload), .data(let id, let payload): return 1 + Varint.encodedLength(id) + payload.count
        case .error(let id, let message), .reset(let id, let message):
            return 1 + Varint.encodedLength(id) + Self.reasonLength(message)
        case .window(let id, let increment): return 1 + Varint.encodedLength(id) + Varint.encodedLength(increment)
        case .close(let id): return 1 + Varint.encodedLength(id)
        case .batch(let frames):
            return 2 + frames.reduce(0) { $0 + Varint.encodedLength(UInt64($1.encodedSize)) + $1.encodedSize }
        }
    }

    public func encode(into out: inout [UInt8]) {
        switch self {
        case .request(let id, let method, let payload): Self.encode(kind: 1, id: id, method: method, payload: payload, into: &out)
        case .message(let method, let payload): Self.encode(kind: 4, id: 0, method: method, payload: payload, into: &out)
        case .open(let id, let method, let payload): Self.encode(kind: 5, id: id, method: method, payload: payload, into: &out)
        case .response(let id, let payload): Self.header(2, id, payload.count, into: &out); out.append(contentsOf: payload)
        case .data(let id, let payload): Self.header(6, id, payload.count, into: &out); out.append(contentsOf: payload)
        case .error(let id, let message): Self.header(3, id, 0, into: &out); out.append(contentsOf: message.utf8.prefix(Self.reasonLength(message)))
        case .reset(let id, let reason): Self.header(9, id, 0, into: &out); out.append(contentsOf: reason.utf8.prefix(Self.reasonLength(reason)))
        case .window(let id, let increment): Self.header(7, id, 10, into: &out); Varint.encode(increment & Varint.maxValue, into: &out)
        case .close(let id): Self.header(8, id, 0, into: &out)
        case .batch(let frames):
            out.reserveCapacity(out.count + encodedSize)
            out.append(10)
            out.append(0)
            for frame in frames {
                Varint.encode(UInt64(frame.encodedSize), into: &out)
                frame.encode(into: &out)
            }
        }
    }

    /// How many UTF-8 bytes of `reason` go on the wire: at most ``maxReasonBytes``, cut where a
    /// character starts (a cut inside one would decode to a different string).
    static func reasonLength(_ reason: String) -> Int {
        var n = 0
        for scalar in reason.unicodeScalars {
            let size = UTF8.width(scalar)
            guard n + size <= maxReasonBytes else { break }
            n += size
        }
        return n
    }

    /// A data frame's bytes straight from a slice of the writer's buffer (one copy).
    static func dataFrame(stream: UInt64, payload: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        header(6, stream, payload.count, into: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// The bytes a data frame of `stream` starts with (its payload follows).
    static func dataHeader(stream: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        header(6, stream, 0, into: &out)
        return out
    }

    private static func header(_ kind: UInt8, _ id: UInt64, _ extra: Int, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + 11 + extra)
        out.append(kind)
        Varint.encode(id & Varint.maxValue, into: &out)
    }

    private static func encode(kind: UInt8, id: UInt64, method: String, payload: [UInt8], into out: inout [UInt8]) {
        header(kind, id, 1 + method.utf8.count + payload.count, into: &out)
        out.append(UInt8(method.utf8.count))
        out.append(contentsOf: method.utf8)
        out.append(contentsOf: payload)
    }

    public init(decoding bytes: [UInt8]) throws(TransportError) {
        try self.init(decoding: bytes[...], nested: false)
    }

    init(decoding bytes: ArraySlice<UInt8>, nested: Bool) throws(TransportError) {
        guard let kind = bytes.first else { throw TransportError(.malformed, "empty RPC frame") }
        var offset = bytes.startIndex + 1
        let id = try Self.varint(bytes, &offset, "RPC frame id")
        if (5...9).contains(kind) && id == 0 {
            throw TransportError(.malformed, "stream frame (kind \(kind)) with stream id 0")
        }
        switch kind {
        case 1, 4, 5:
            guard kind != 4 || id == 0 else { throw TransportError(.malformed, "one-way RPC message with call id \(id) (must be 0)") }
            guard offset < bytes.endIndex else { throw TransportError(.malformed, "RPC request without a method") }
            let n = Int(bytes[offset])
            guard n > 0, n <= RPCFrame.maxMethodBytes, bytes.endIndex - offset >= 1 + n,
                  let method = String(validating: bytes[(offset + 1)..<(offset + 1 + n)], as: UTF8.self) else {
                throw TransportError(.malformed, "RPC request method must be 1 to \(RPCFrame.maxMethodBytes) bytes of UTF-8")
            }
            let payload = Array(bytes[(offset + 1 + n)...])
            switch kind {
            case 1: self = .request(id: id, method: method, payload: payload)
            case 4: self = .message(method: method, payload: payload)
            default: self = .open(stream: id, method: method, payload: payload)
            }
        case 2:
            self = .response(id: id, payload: Array(bytes[offset...]))
        case 3, 9:
            guard bytes.endIndex - offset <= RPCFrame.maxReasonBytes else {
                throw TransportError(.malformed, "RPC error or reset reason over \(RPCFrame.maxReasonBytes) bytes")
            }
            let reason = String(decoding: bytes[offset...], as: UTF8.self)
            self = kind == 3 ? .error(id: id, message: reason) : .reset(stream: id, reason: reason)
        case 6:
            guard offset < bytes.endIndex else { throw TransportError(.malformed, "stream data frame without data") }
            self = .data(stream: id, payload: Array(bytes[offset...]))
        case 7:
            let increment = try Self.varint(bytes, &offset, "window increment")
            guard offset == bytes.endIndex else { throw TransportError(.malformed, "bytes after a window increment") }
            guard increment >= 1, increment <= RPCFrame.maxWindowIncrement else {
                throw TransportError(.malformed, "window increment \(increment) outside 1...\(RPCFrame.maxWindowIncrement)")
            }
            self = .window(stream: id, increment: increment)
        case 8:
            guard offset == bytes.endIndex else { throw TransportError(.malformed, "bytes after a stream close") }
            self = .close(stream: id)
        case 10:
            guard !nested else { throw TransportError(.malformed, "a batch inside a batch") }
            guard id == 0 else { throw TransportError(.malformed, "batch with id \(id) (must be 0)") }
            var frames: [RPCFrame] = []
            while offset < bytes.endIndex {
                let n = try Self.varint(bytes, &offset, "batched frame length")
                guard n >= 1, n <= UInt64(bytes.endIndex - offset) else {
                    throw TransportError(.malformed, "batched frame of \(n) bytes where \(bytes.endIndex - offset) remain")
                }
                frames.append(try RPCFrame(decoding: bytes[offset..<offset + Int(n)], nested: true))
                offset += Int(n)
            }
            guard !frames.isEmpty else { throw TransportError(.malformed, "empty batch") }
            self = .batch(frames)
        default:
            throw TransportError(.malformed, "unknown RPC frame kind \(kind)")
        }
    }

    /// One minimal varint of at most 9 bytes (as `ByteReader`), read from a slice.
    private static func varint(_ bytes: ArraySlice<UInt8>, _ offset: inout Int, _ what: String) throws(TransportError) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<Varint.maxBytes {
            guard offset < bytes.endIndex else { throw TransportError(.malformed, "\(what): truncated varint") }
            let b = bytes[offset]
            offset += 1
            value |= UInt64(b & 0x7f) << (7 * UInt64(i))
            if b & 0x80 == 0 {
                guard b != 0 || i == 0 else { throw TransportError(.malformed, "\(what): varint not minimally encoded") }
                return value
            }
        }
        throw TransportError(.malformed, "\(what): varint longer than \(Varint.maxBytes) bytes")
    }
}

/// A transport failure, with what happened and what to do.
public struct TransportError: CodedError {
    public let code: ErrorCode<TransportError>
    public let message: String

    public init(_ code: ErrorCode<TransportError>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension TransportError {
    /// A write failed because the connection is gone (NIO's errors become `connectionClosed`;
    /// a transport error is kept).
    static func closed(_ peer: PeerID, _ error: any Error) -> TransportError {
        if let error = error as? TransportError { return error }
        return TransportError(.connectionClosed, "connection to \(peer) closed: \(error)")
    }
}

extension ErrorCode where Domain == TransportError {
    public static let malformed = Self("malformed")
    public static let handshakeFailed = Self("handshakeFailed")
    public static let connectionClosed = Self("connectionClosed")
    public static let timeout = Self("timeout")
    public static let remoteError = Self("remoteError")
    public static let unknownMethod = Self("unknownMethod")
    public static let tooLarge = Self("tooLarge")
    public static let unreachable = Self("unreachable")
    public static let badAddress = Self("badAddress")
    /// A stream was reset by either side (the reason says which and why).
    public static let reset = Self("reset")
}
