internal import CSodium

/// libsodium's `crypto_secretstream_xchacha20poly1305`: an ordered, authenticated stream of
/// messages under one key, with tags for message boundaries, rekeying and the end of stream.
///
/// Pusher and puller are non-copyable: a copied state would reuse nonces.
public enum SecretStream {
    public static let keyBytes = 32
    public static let headerBytes = 24
    /// Bytes each pushed message grows by.
    public static let overheadBytes = 17

    /// What a message marks, besides carrying data.
    public enum Tag: UInt8, Sendable {
        case message = 0
        case push = 1
        case rekey = 2
        case final = 3
    }

    /// The sending half. Created with a key; hands out the header the puller needs.
    public struct Pusher: ~Copyable {
        private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>
        /// Send this to the puller before any message.
        public let header: [UInt8]
        private var finished = false

        public init(key: SecureBytes) throws(SodiumError) {
            guard key.count == SecretStream.keyBytes else {
                throw .length("secretstream key", expected: SecretStream.keyBytes, got: key.count)
            }
            Sodium.ensureInitialized()
            let st = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
            st.initialize(to: crypto_secretstream_xchacha20poly1305_state())
            var h = [UInt8](repeating: 0, count: SecretStream.headerBytes)
            h.withUnsafeMutableBufferPointer { hb in
                key.withUnsafeBytes { k in
                    _ = crypto_secretstream_xchacha20poly1305_init_push(
                        st, hb.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            state = st
            header = h
        }

        /// Encrypts `message` with `tag`; a `final` tag ends the stream.
        public mutating func push(_ message: [UInt8], tag: Tag = .message, authenticating ad: [UInt8] = []) throws(SodiumError) -> [UInt8] {
            guard !finished else { throw SodiumError(.streamFinished, "secretstream already sent its final message") }
            var out = [UInt8](repeating: 0, count: message.count + SecretStream.overheadBytes)
            out.withUnsafeMutableBufferPointer { o in
                message.withUnsafeBufferPointer { m in
                    ad.withUnsafeBufferPointer { a in
                        _ = crypto_secretstream_xchacha20poly1305_push(
                            state, o.baseAddress!, nil, m.baseAddress, UInt64(m.count),
                            a.baseAddress, UInt64(a.count), tag.rawValue)
                    }
                }
            }
            if tag == .final { finished = true }
            return out
        }

        /// Rekeys without sending anything; the puller must call ``Puller/rekey()`` at the same point.
        public mutating func rekey() {
            crypto_secretstream_xchacha20poly1305_rekey(state)
        }

        deinit {
            sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
            state.deallocate()
        }
    }

    /// The receiving half.
    public struct Puller: ~Copyable {
        private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>
        private var finished = false

        public init(key: SecureBytes, header: [UInt8]) throws(SodiumError) {
            guard key.count == SecretStream.keyBytes else {
                throw .length("secretstream key", expected: SecretStream.keyBytes, got: key.count)
            }
            guard header.count == SecretStream.headerBytes else {
                throw .length("secretstream header", expected: SecretStream.headerBytes, got: header.count)
            }
            Sodium.ensureInitialized()
            let st = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
            st.initialize(to: crypto_secretstream_xchacha20poly1305_state())
            let rc = header.withUnsafeBufferPointer { hb in
                key.withUnsafeBytes { k in
                    crypto_secretstream_xchacha20poly1305_init_pull(
                        st, hb.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard rc == 0 else {
                st.deallocate()
                throw SodiumError(.authenticationFailed, "secretstream header rejected")
            }
            state = st
        }

        /// Decrypts the next message; throws on tampering, reordering, truncation or after `final`.
        public mutating func pull(_ sealed: [UInt8], authenticating ad: [UInt8] = []) throws(SodiumError) -> (message: [UInt8], tag: Tag) {
            guard !finished else { throw SodiumError(.streamFinished, "secretstream already received its final message") }
            guard sealed.count >= SecretStream.overheadBytes else {
                throw SodiumError(.authenticationFailed, "secretstream message of \(sealed.count) bytes is shorter than its overhead")
            }
            var out = [UInt8](repeating: 0, count: sealed.count - SecretStream.overheadBytes)
            var tag: UInt8 = 0
            var scratch: UInt8 = 0
            let rc = out.withUnsafeMutableBufferPointer { o in
                sealed.withUnsafeBufferPointer { c in
                    ad.withUnsafeBufferPointer { a in
                        withUnsafeMutablePointer(to: &scratch) { sp in
                            crypto_secretstream_xchacha20poly1305_pull(
                                state, o.baseAddress ?? sp, nil, &tag, c.baseAddress!, UInt64(c.count),
                                a.baseAddress, UInt64(a.count))
                        }
                    }
                }
            }
            guard rc == 0, let t = Tag(rawValue: tag) else {
                throw SodiumError(.authenticationFailed, "secretstream message forged, corrupted or out of order")
            }
            if t == .final { finished = true }
            return (out, t)
        }

        /// Rekeys at the same point as the pusher did.
        public mutating func rekey() {
            crypto_secretstream_xchacha20poly1305_rekey(state)
        }

        deinit {
            sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
            state.deallocate()
        }
    }
}
