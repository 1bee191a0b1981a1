internal import LZ4
public import Sodium

/// Encrypted records on a TCP connection after the handshake.
///
/// A record is a 4-byte header — flags (bit 0: LZ4-compressed; the others zero) and the
/// ciphertext length as a 24-bit big-endian integer — then the ciphertext, sealed with the
/// session's cipher under nonce = 64-bit little-endian record counter ‖ 4 zero bytes and the
/// header as associated data. A compressed plaintext is `u32 BE original length ‖ LZ4 block`.
/// Both sides rekey after every ``rekeyInterval`` records (no message is exchanged).
public enum RecordLayer {
    /// The largest plaintext in one record.
    public static let maxPlaintext = 65536
    /// The largest ciphertext a header may announce (plaintext, LZ4 framing, tag).
    public static let maxCiphertext = maxPlaintext + 4 + 16
    public static let headerBytes = 4
    /// Records between rekeys: far below any nonce limit.
    public static let rekeyInterval: UInt64 = 1 << 20
    /// Payloads shorter than this are never compressed (control records).
    public static let compressionThreshold = 512

    static let flagLZ4: UInt8 = 1

    static func nonce(_ counter: UInt64) -> [UInt8] {
        withUnsafeBytes(of: counter.littleEndian) { Array($0) } + [0, 0, 0, 0]
    }

    /// Noise's REKEY: the first 32 bytes of sealing 32 zero bytes under the maximal nonce.
    static func rekey(_ aead: AEAD, algorithm: AEAD.Algorithm) -> AEAD {
        let k = try! aead.seal([UInt8](repeating: 0, count: 32), nonce: nonce(UInt64.max))
        return try! AEAD(algorithm, key: SecureBytes(k.prefix(32)))
    }
}

/// Seals records for one direction.
public struct RecordSealer: Sendable {
    private var aead: AEAD
    private let algorithm: AEAD.Algorithm
    private let rekeyInterval: UInt64
    public private(set) var counter: UInt64 = 0

    public init(cipher: RecordCipher, key: SecureBytes, rekeyInterval: UInt64 = RecordLayer.rekeyInterval) throws(SodiumError) {
        algorithm = cipher.algorithm
        aead = try AEAD(algorithm, key: key)
        self.rekeyInterval = rekeyInterval
    }

    /// Seals `payload` (at most ``RecordLayer/maxPlaintext`` bytes) into one record, compressed
    /// with LZ4 when `compressible` and it saves at least an eighth.
    public mutating func seal(_ payload: [UInt8], compressible: Bool = false) -> [UInt8] {
        precondition(payload.count <= RecordLayer.maxPlaintext, "record payload of \(payload.count) bytes exceeds \(RecordLayer.maxPlaintext)")
        var flags: UInt8 = 0
        var body = payload
        if compressible && payload.count >= RecordLayer.compressionThreshold && RecordSealer.looksCompressible(payload) {
            let packed = LZ4.compress(payload)
            if packed.count + 4 <= payload.count - payload.count / 8 {
                let n = UInt32(payload.count)
                body = [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + packed
                flags |= RecordLayer.flagLZ4
            }
        }
        let length = body.count + AEAD.tagBytes
        let header: [UInt8] = [flags, UInt8(length >> 16), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        let sealed = try! aead.seal(body, nonce: RecordLayer.nonce(counter), authenticating: header)
        advance()
        return header + sealed
    }

    /// The size of the record for an uncompressed payload of `count` bytes.
    public static func recordSize(payload count: Int) -> Int { RecordLayer.headerBytes + count + AEAD.tagBytes }

    /// Seals an uncompressed record straight into `output` (at least ``recordSize(payload:)``
    /// bytes); returns the bytes written. The bulk path: no intermediate copies.
    public mutating func seal(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        precondition(payload.count <= RecordLayer.maxPlaintext, "record payload of \(payload.count) bytes exceeds \(RecordLayer.maxPlaintext)")
        let length = payload.count + AEAD.tagBytes
        let header: [UInt8] = [0, UInt8(length >> 16), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        output.copyBytes(from: header)
        let n = RecordLayer.nonce(counter)
        let written = n.withUnsafeBytes { nb in
            header.withUnsafeBytes { hb in
                try! aead.seal(payload, nonce: nb, authenticating: hb, into: UnsafeMutableRawBufferPointer(rebasing: output[4...]))
            }
        }
        advance()
        return 4 + written
    }

    /// Seals an uncompressed record in place: `record` holds 4 bytes of room for the header,
    /// then `count` plaintext bytes, then 16 bytes of room for the tag. Returns the record's
    /// size. The bulk path: the plaintext is written once, where its ciphertext goes.
    public mutating func sealInPlace(_ record: UnsafeMutableRawBufferPointer, plaintextCount count: Int) -> Int {
        precondition(count <= RecordLayer.maxPlaintext, "record payload of \(count) bytes exceeds \(RecordLayer.maxPlaintext)")
        precondition(record.count >= RecordSealer.recordSize(payload: count), "no room for the record's header and tag")
        let length = count + AEAD.tagBytes
        record[0] = 0
        record[1] = UInt8(length >> 16)
        record[2] = UInt8(length >> 8 & 0xff)
        record[3] = UInt8(length & 0xff)
        let n = RecordLayer.nonce(counter)
        let written = n.withUnsafeBytes { nb in
            try! aead.seal(
                UnsafeRawBufferPointer(rebasing: record[4..<4 + count]), nonce: nb,
                authenticating: UnsafeRawBufferPointer(rebasing: record[0..<4]),
                into: UnsafeMutableRawBufferPointer(rebasing: record[4...]))
        }
        advance()
        return 4 + written
    }

    /// Whether a 4 KiB sample compresses by an eighth: random and already-compressed data
    /// (most blocks) skip the full attempt.
    public static func looksCompressible(_ payload: [UInt8]) -> Bool {
        let sample = Array(payload.prefix(4096))
        return LZ4.compress(sample).count <= sample.count - sample.count / 8
    }

    private mutating func advance() {
        counter += 1
        if counter % rekeyInterval == 0 { aead = RecordLayer.rekey(aead, algorithm: algorithm) }
    }
}

/// Opens records for one direction from a byte stream fed in any pieces.
///
/// Whole records are opened where they lie in the bytes given (a connection's read buffer);
/// only a record cut by the end of those bytes is copied, to be completed by the next ones.
public struct RecordOpener: Sendable {
    private var aead: AEAD
    private let algorithm: AEAD.Algorithm
    private let rekeyInterval: UInt64
    public private(set) var counter: UInt64 = 0
    /// The start of a record whose end has not arrived yet.
    private var partial: [UInt8] = []
    private var failure: SecureChannelError?
    /// Plaintexts opened by ``feed(_:)`` and not yet taken by ``next()``.
    private var ready: [[UInt8]] = []
    private var taken = 0

    public init(cipher: RecordCipher, key: SecureBytes, rekeyInterval: UInt64 = RecordLayer.rekeyInterval) throws(SodiumError) {
        algorithm = cipher.algorithm
        aead = try AEAD(algorithm, key: key)
        self.rekeyInterval = rekeyInterval
    }

    /// Opens every record `bytes` completes, in order, handing each plaintext to `deliver`;
    /// `deliver` returns false to stop (the rest of `bytes` is dropped: the connection is
    /// closing). Any error is final: the connection must be closed.
    public mutating func open(_ bytes: UnsafeRawBufferPointer, _ deliver: ([UInt8]) -> Bool) throws(SecureChannelError) {
        if let failure { throw failure }
        do throws(SecureChannelError) {
            var i = 0
            if !partial.isEmpty {
                if partial.count < RecordLayer.headerBytes {
                    let take = min(RecordLayer.headerBytes - partial.count, bytes.count)
                    partial += bytes[0..<take]
                    i = take
                    guard partial.count == RecordLayer.headerBytes else { return }
                }
                let size = try RecordOpener.recordSize(partial[0], partial[1], partial[2], partial[3])
                let take = min(size - partial.count, bytes.count - i)
                partial += bytes[i..<i + take]
                i += take
                guard partial.count == size else { return }
                let record = partial
                partial = []
                let plaintext = try record.withUnsafeBytes { r in
                    Result { () throws(SecureChannelError) -> [UInt8] in try openRecord(r) }
                }.get()
                guard deliver(plaintext) else { return }
            }
            while bytes.count - i >= RecordLayer.headerBytes {
                let size = try RecordOpener.recordSize(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3])
                guard bytes.count - i >= size else { break }
                let plaintext = try openRecord(UnsafeRawBufferPointer(rebasing: bytes[i..<i + size]))
                i += size
                guard deliver(plaintext) else { return }
            }
            if i < bytes.count {
                partial.reserveCapacity(RecordLayer.headerBytes + RecordLayer.maxCiphertext)
                partial += bytes[i...]
            }
        } catch {
            failure = error
            throw error
        }
    }

    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Opens what `bytes` completes, for ``next()`` to hand out; an error is kept for
    /// ``next()`` to throw once the records before it are taken.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var opened: [[UInt8]] = []
        try? open(bytes) { opened.append($0); return true }
        if taken == ready.count {
            ready = opened
            taken = 0
        } else {
            ready += opened
        }
    }

    /// The next record's plaintext, or nil when more bytes are needed. Any error is final: the
    /// connection must be closed.
    public mutating func next() throws(SecureChannelError) -> [UInt8]? {
        if taken < ready.count {
            defer { taken += 1 }
            return ready[taken]
        }
        if let failure { throw failure }
        return nil
    }

    /// The size of the whole record (header and ciphertext) whose header is these four bytes.
    /// Throws `malformed` for unknown flags and `tooLarge` for a length out of bounds.
    static func recordSize(_ flags: UInt8, _ l0: UInt8, _ l1: UInt8, _ l2: UInt8) throws(SecureChannelError) -> Int {
        guard flags & ~RecordLayer.flagLZ4 == 0 else {
            throw SecureChannelError(.malformed, "record header has unknown flags 0x\(String(flags, radix: 16))")
        }
        let length = Int(l0) << 16 | Int(l1) << 8 | Int(l2)
        guard length >= AEAD.tagBytes, length <= RecordLayer.maxCiphertext else {
            throw SecureChannelError(.tooLarge, "record of \(length) bytes is outside 16...\(RecordLayer.maxCiphertext)")
        }
        return RecordLayer.headerBytes + length
    }

    private mutating func openRecord(_ record: UnsafeRawBufferPointer) throws(SecureChannelError) -> [UInt8] {
        let flags = record[0]
        let length = record.count - RecordLayer.headerBytes
        let header = UnsafeRawBufferPointer(rebasing: record[0..<4])
        let sealed = UnsafeRawBufferPointer(rebasing: record[4...])
        let nonce = RecordLayer.nonce(counter)
        let opening = aead
        var failed = false
        let body = [UInt8](unsafeUninitializedCapacity: length - AEAD.tagBytes) { out, count in
            nonce.withUnsafeBytes { nb in
                do throws(SodiumError) {
                    count = try opening.open(sealed, nonce: nb, authenticating: header, into: UnsafeMutableRawBufferPointer(out))
                } catch {
                    failed = true
                    count = 0
                }
            }
        }
        guard !failed else {
            throw SecureChannelError(.authenticationFailed, "record \(counter) failed authentication (tampered, reordered or replayed)")
        }
        counter += 1
        if counter % rekeyInterval == 0 { aead = RecordLayer.rekey(aead, algorithm: algorithm) }
        guard flags & RecordLayer.flagLZ4 != 0 else { return body }
        guard body.count >= 4 else { throw SecureChannelError(.malformed, "compressed record shorter than its length field") }
        let original = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
        guard original <= RecordLayer.maxPlaintext else {
            throw SecureChannelError(.tooLarge, "compressed record claims \(original) bytes, over \(RecordLayer.maxPlaintext)")
        }
        do throws(LZ4Error) {
            return try LZ4.decompress(Array(body[4...]), originalSize: original)
        } catch {
            throw SecureChannelError(.malformed, "compressed record: \(error.message)")
        }
    }
}

/// Splits the handshake byte stream into messages (2-byte big-endian length prefix).
public struct HandshakeFrameDecoder: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) { buffer += bytes }

    /// The next complete handshake message, or nil.
    public mutating func next() -> [UInt8]? {
        guard buffer.count >= 2 else { return nil }
        let n = Int(buffer[0]) << 8 | Int(buffer[1])
        guard buffer.count >= 2 + n else { return nil }
        defer { buffer.removeFirst(2 + n) }
        return Array(buffer[2..<2 + n])
    }

    /// Bytes received after the last complete message (the first records, sent right behind
    /// message 3), handed to the record layer.
    public mutating func takeRemainder() -> [UInt8] {
        defer { buffer = [] }
        return buffer
    }
}
