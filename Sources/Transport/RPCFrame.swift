import Multiformats
public import CodedError

/// One RPC message inside one record:
/// `kind (1) ‖ call id (varint) ‖ [method length (1) ‖ method (UTF-8), requests and one-way messages] ‖ payload`.
public enum RPCFrame: Hashable, Sendable {
    case request(id: UInt64, method: String, payload: [UInt8])
    case response(id: UInt64, payload: [UInt8])
    /// The call failed on the remote side; the payload is the UTF-8 reason.
    case error(id: UInt64, message: String)
    /// A one-way message: handled in arrival order, never answered (call id 0 on the wire).
    case message(method: String, payload: [UInt8])

    /// The longest method name.
    public static let maxMethodBytes = 64
    /// The largest RPC payload: one record less the RPC header.
    public static let maxPayload = 65536 - 1 - 10 - 1 - maxMethodBytes

    public func encoded() -> [UInt8] {
        switch self {
        case .request(let id, let method, let payload):
            return Self.encode(kind: 1, id: id, method: method, payload: payload)
        case .message(let method, let payload):
            return Self.encode(kind: 4, id: 0, method: method, payload: payload)
        case .response(let id, let payload):
            var out: [UInt8] = []
            out.reserveCapacity(11 + payload.count)
            out.append(2)
            Varint.encode(id & Varint.maxValue, into: &out)
            out.append(contentsOf: payload)
            return out
        case .error(let id, let message):
            return [3] + Varint.encode(id & Varint.maxValue) + Array(message.utf8.prefix(1024))
        }
    }

    private static func encode(kind: UInt8, id: UInt64, method: String, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12 + method.utf8.count + payload.count)
        out.append(kind)
        Varint.encode(id & Varint.maxValue, into: &out)
        out.append(UInt8(method.utf8.count))
        out.append(contentsOf: method.utf8)
        out.append(contentsOf: payload)
        return out
    }

    public init(decoding bytes: [UInt8]) throws(TransportError) {
        guard let kind = bytes.first else { throw TransportError(.malformed, "empty RPC frame") }
        var r = ByteReader(bytes, offset: 1)
        let id: UInt64
        do throws(MultiformatsError) {
            id = try r.readVarint()
        } catch {
            throw TransportError(.malformed, "RPC frame call id: \(error.message)")
        }
        switch kind {
        case 1, 4:
            guard kind == 1 || id == 0 else { throw TransportError(.malformed, "one-way RPC message with call id \(id) (must be 0)") }
            guard !r.isAtEnd else { throw TransportError(.malformed, "RPC request without a method") }
            let n = Int(bytes[r.offset])
            guard n > 0, n <= RPCFrame.maxMethodBytes, r.remaining >= 1 + n,
                  let method = String(validating: bytes[(r.offset + 1)..<(r.offset + 1 + n)], as: UTF8.self) else {
                throw TransportError(.malformed, "RPC request method must be 1 to \(RPCFrame.maxMethodBytes) bytes of UTF-8")
            }
            let payload = Array(bytes[(r.offset + 1 + n)...])
            self = kind == 1 ? .request(id: id, method: method, payload: payload) : .message(method: method, payload: payload)
        case 2:
            self = .response(id: id, payload: Array(bytes[r.offset...]))
        case 3:
            self = .error(id: id, message: String(decoding: bytes[r.offset...], as: UTF8.self))
        default:
            throw TransportError(.malformed, "unknown RPC frame kind \(kind)")
        }
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
}
