public import Sodium
import SecureChannel

/// The transport phase of libp2p Noise: ChaChaPoly (IETF) with a counter nonce, empty AD,
/// each ciphertext behind a 2-byte big-endian length.
///
/// - A frame is at most 65535 bytes, so a plaintext chunk is at most ``maxPlaintext`` (65519);
///   ``seal(_:)`` splits longer input.
/// - A frame that fails authentication, or shorter than the tag, is a fatal error.
/// - Partial frames are kept until complete; at most one frame is buffered.
public struct NoiseTransportCipher: Sendable {
    public static let maxFrame = 65535
    public static let maxPlaintext = maxFrame - AEAD.tagBytes

    private let sendKey: AEAD
    private let receiveKey: AEAD
    private var sendNonce: UInt64 = 0
    private var receiveNonce: UInt64 = 0
    private var pending: [UInt8] = []
    private var pendingOffset = 0

    public init(send: SecureBytes, receive: SecureBytes) {
        sendKey = try! AEAD(.chacha20Poly1305, key: send)
        receiveKey = try! AEAD(.chacha20Poly1305, key: receive)
    }

    /// Encrypts `plaintext` into framed ciphertexts appended to `out`.
    public mutating func seal(_ plaintext: [UInt8], into out: inout [UInt8]) {
        plaintext.withUnsafeBytes { seal($0, into: &out) }
    }

    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let chunks = max(1, (plaintext.count + NoiseTransportCipher.maxPlaintext - 1) / NoiseTransportCipher.maxPlaintext)
        let size = plaintext.count + chunks * (2 + AEAD.tagBytes)
        let sealed = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            let o = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0, at = 0
            repeat {
                let n = min(NoiseTransportCipher.maxPlaintext, plaintext.count - offset)
                o[at] = UInt8((n + AEAD.tagBytes) >> 8)
                o[at + 1] = UInt8((n + AEAD.tagBytes) & 0xff)
                let nonce = NoiseTransportCipher.nonce(sendNonce)
                sendNonce += 1
                nonce.withUnsafeBytes { nb in
                    _ = try! sendKey.seal(
                        UnsafeRawBufferPointer(rebasing: plaintext[offset..<(offset + n)]), nonce: nb,
                        authenticating: UnsafeRawBufferPointer(start: nil, count: 0),
                        into: UnsafeMutableRawBufferPointer(rebasing: o[(at + 2)..<(at + 2 + n + AEAD.tagBytes)]))
                }
                offset += n
                at += 2 + n + AEAD.tagBytes
            } while offset < plaintext.count
            count = at
        }
        if out.isEmpty { out = sealed } else { out += sealed }
    }

    /// Decrypts every complete frame in the buffered bytes plus `bytes`, appending plaintext to `out`.
    public mutating func open(_ bytes: [UInt8], into out: inout [UInt8]) throws(Libp2pProtocolError) {
        pending += bytes
        while pending.count - pendingOffset >= 2 {
            let length = Int(pending[pendingOffset]) << 8 | Int(pending[pendingOffset + 1])
            guard pending.count - pendingOffset - 2 >= length else { break }
            guard length >= AEAD.tagBytes else {
                throw Libp2pProtocolError(.malformed, "Noise frame of \(length) bytes is shorter than its tag")
            }
            let nonce = NoiseTransportCipher.nonce(receiveNonce)
            let frameStart = pendingOffset + 2
            var ok = true
            let plain = pending.withUnsafeBytes { p in
                [UInt8](unsafeUninitializedCapacity: length - AEAD.tagBytes) { buffer, count in
                    ok = nonce.withUnsafeBytes { nb in
                        (try? receiveKey.open(
                            UnsafeRawBufferPointer(rebasing: p[frameStart..<(frameStart + length)]), nonce: nb,
                            authenticating: UnsafeRawBufferPointer(start: nil, count: 0),
                            into: UnsafeMutableRawBufferPointer(buffer))) != nil
                    }
                    count = ok ? length - AEAD.tagBytes : 0
                }
            }
            if out.isEmpty { out = plain } else { out += plain }
            guard ok else { throw Libp2pProtocolError(.authenticationFailed, "Noise frame failed authentication (tampering or a broken peer)") }
            receiveNonce += 1
            pendingOffset = frameStart + length
        }
        if pendingOffset == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingOffset = 0
        } else if pendingOffset > 65536 {
            pending.removeFirst(pendingOffset)
            pendingOffset = 0
        }
    }

    /// Seals the `count` plaintext bytes at `frame[2..<2 + count]` where they lie: the length
    /// prefix goes in `frame[0..<2]` and the tag after the plaintext. `count` is at most
    /// ``maxPlaintext`` and `frame` holds `count + 18` bytes; returns the frame's size.
    public mutating func sealFrameInPlace(_ frame: UnsafeMutableRawBufferPointer, plaintextCount count: Int) -> Int {
        precondition(count <= NoiseTransportCipher.maxPlaintext && frame.count >= count + 2 + AEAD.tagBytes, "a Noise frame holds its length, plaintext and tag")
        let length = count + AEAD.tagBytes
        frame[0] = UInt8(length >> 8)
        frame[1] = UInt8(length & 0xff)
        let body = UnsafeMutableRawBufferPointer(rebasing: frame[2..<(2 + length)])
        let plain = UnsafeRawBufferPointer(rebasing: body[0..<count])
        let n = sendNonce
        sendNonce += 1
        withNonce(n) { nb in
            _ = try! sendKey.seal(plain, nonce: nb, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), into: body)
        }
        return 2 + length
    }

    /// Opens one frame's ciphertext and tag (the bytes after its length prefix) into `output`,
    /// which holds `sealed.count - 16` bytes and may be `sealed` itself. Returns the plaintext length.
    public mutating func openFrame(_ sealed: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(Libp2pProtocolError) -> Int {
        guard sealed.count >= AEAD.tagBytes else {
            throw Libp2pProtocolError(.malformed, "Noise frame of \(sealed.count) bytes is shorter than its tag")
        }
        let n = receiveNonce
        let opened = withNonce(n) { nb in
            try? receiveKey.open(sealed, nonce: nb, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), into: output)
        }
        guard let opened else { throw Libp2pProtocolError(.authenticationFailed, "Noise frame failed authentication (tampering or a broken peer)") }
        receiveNonce += 1
        return opened
    }

    /// The 12-byte nonce of counter `n` (4 zero bytes, then `n` little-endian), on the stack.
    private func withNonce<R>(_ n: UInt64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var bytes: (UInt32, UInt32, UInt32) = (0, UInt32(truncatingIfNeeded: n).littleEndian, UInt32(truncatingIfNeeded: n >> 32).littleEndian)
        return withUnsafeBytes(of: &bytes) { body($0) }
    }

    static func nonce(_ n: UInt64) -> [UInt8] { SymmetricState.nonceBytes(n) }
}
