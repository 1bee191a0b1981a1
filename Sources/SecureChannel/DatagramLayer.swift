public import Sodium

/// Keys for datagrams, derived from the handshake hash (so they exist only after a handshake).
public struct DatagramKeys: Sendable {
    public let send: SecureBytes
    public let receive: SecureBytes

    init(handshakeHash: [UInt8], isInitiator: Bool) {
        let (a, b) = HKDF2.derive(chainingKey: handshakeHash, input: Array("pinmesh-datagram-keys".utf8))
        send = SecureBytes(isInitiator ? a : b)
        receive = SecureBytes(isInitiator ? b : a)
    }
}

/// Encrypted UDP datagrams: `receiver's 8-byte datagram id ‖ 8-byte big-endian counter ‖
/// ChaCha20-Poly1305(payload)` with the 16-byte header as associated data and nonce =
/// counter (64-bit little-endian) ‖ 4 zero bytes. At most ``maxPayload`` bytes of payload.
public enum DatagramLayer {
    /// The largest payload: one MTU-safe datagram (1200 bytes) less the header and tag.
    public static let maxPayload = 1200 - 16 - 16
    public static let headerBytes = 16
    /// Counters this far behind the highest seen are refused.
    public static let replayWindow: UInt64 = 1024

    /// The receiver's datagram id of a datagram, to find the session without decrypting.
    public static func receiverID(_ datagram: [UInt8]) -> [UInt8]? {
        datagram.count >= headerBytes + 16 ? Array(datagram.prefix(8)) : nil
    }
}

public struct DatagramSealer: Sendable {
    private let aead: AEAD
    private let peerID: [UInt8]
    public private(set) var counter: UInt64 = 0

    public init(session: SecureSession) {
        aead = try! AEAD(.chacha20Poly1305, key: session.datagramKeys.send)
        peerID = session.remoteDatagramID
    }

    public mutating func seal(_ payload: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        guard payload.count <= DatagramLayer.maxPayload else {
            throw SecureChannelError(.tooLarge, "datagram payload of \(payload.count) bytes exceeds \(DatagramLayer.maxPayload); send it on TCP")
        }
        let c = counter
        counter += 1
        let header = peerID + (0..<8).map { UInt8(truncatingIfNeeded: c >> (56 - 8 * UInt64($0))) }
        return header + (try! aead.seal(payload, nonce: RecordLayer.nonce(c), authenticating: header))
    }
}

/// Opens datagrams with one decrypt attempt each and a sliding replay window.
public struct DatagramOpener: Sendable {
    private let aead: AEAD
    private let localID: [UInt8]
    private var highest: UInt64 = 0
    private var seenAny = false
    /// Bit i set: counter `highest - i` was seen.
    private var window = [UInt64](repeating: 0, count: Int(DatagramLayer.replayWindow / 64))

    public init(session: SecureSession) {
        aead = try! AEAD(.chacha20Poly1305, key: session.datagramKeys.receive)
        localID = session.localDatagramID
    }

    public mutating func open(_ datagram: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        guard datagram.count >= DatagramLayer.headerBytes + AEAD.tagBytes, datagram.count <= 1200 else {
            throw SecureChannelError(.malformed, "datagram of \(datagram.count) bytes is outside 32...1200")
        }
        guard Array(datagram.prefix(8)) == localID else {
            throw SecureChannelError(.malformed, "datagram is addressed to another session")
        }
        let counter = datagram[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if seenAny {
            guard counter + DatagramLayer.replayWindow > highest else {
                throw SecureChannelError(.replayed, "datagram \(counter) is older than the replay window")
            }
            if counter <= highest, isSeen(highest - counter) {
                throw SecureChannelError(.replayed, "datagram \(counter) was already received")
            }
        }
        let header = Array(datagram.prefix(16))
        let payload: [UInt8]
        do throws(SodiumError) {
            payload = try aead.open(Array(datagram[16...]), nonce: RecordLayer.nonce(counter), authenticating: header)
        } catch {
            throw SecureChannelError(.authenticationFailed, "datagram failed authentication")
        }
        markSeen(counter)
        return payload
    }

    private func isSeen(_ age: UInt64) -> Bool {
        window[Int(age / 64)] & (1 << (age % 64)) != 0
    }

    private mutating func markSeen(_ counter: UInt64) {
        if !seenAny || counter > highest {
            let shift = seenAny ? counter - highest : DatagramLayer.replayWindow
            shiftWindow(by: shift)
            highest = counter
            seenAny = true
        }
        let age = highest - counter
        window[Int(age / 64)] |= 1 << (age % 64)
    }

    private mutating func shiftWindow(by n: UInt64) {
        guard n < DatagramLayer.replayWindow else {
            for i in window.indices { window[i] = 0 }
            return
        }
        let words = Int(n / 64), bits = n % 64
        for i in stride(from: window.count - 1, through: 0, by: -1) {
            let src = i - words
            var v: UInt64 = src >= 0 ? window[src] << bits : 0
            if bits > 0, src - 1 >= 0 { v |= window[src - 1] >> (64 - bits) }
            window[i] = v
        }
    }
}

/// The messages inside one datagram's plaintext: each `length (2, big-endian, at least 1) ‖
/// bytes`, back to back. Several small messages sent in the same event-loop turn share a
/// datagram (one seal, one system call); an empty plaintext carries none (it only tells the
/// receiver where this peer's datagrams come from).
public enum DatagramMessages {
    /// The largest message: one datagram's payload less its length field.
    public static let maxMessage = DatagramLayer.maxPayload - 2

    /// Packs `messages` (each 1 … ``maxMessage`` bytes) into as few plaintexts as fit, in order.
    public static func pack(_ messages: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8] = []
        for m in messages {
            precondition(!m.isEmpty && m.count <= maxMessage, "datagram messages are 1 to \(maxMessage) bytes")
            if current.count + 2 + m.count > DatagramLayer.maxPayload {
                out.append(current)
                current = []
            }
            current.append(UInt8(m.count >> 8))
            current.append(UInt8(m.count & 0xff))
            current.append(contentsOf: m)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// The messages of one plaintext. A zero length or one past the end is `malformed` (the
    /// sender was authenticated, so the whole datagram is dropped).
    public static func split(_ plaintext: [UInt8]) throws(SecureChannelError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < plaintext.count {
            guard plaintext.count - i >= 2 else { throw SecureChannelError(.malformed, "datagram message length cut short") }
            let n = Int(plaintext[i]) << 8 | Int(plaintext[i + 1])
            guard n >= 1, n <= plaintext.count - i - 2 else {
                throw SecureChannelError(.malformed, "datagram message of \(n) bytes where \(plaintext.count - i - 2) remain")
            }
            out.append(Array(plaintext[(i + 2)..<(i + 2 + n)]))
            i += 2 + n
        }
        return out
    }
}
