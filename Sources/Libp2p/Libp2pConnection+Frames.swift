import Libp2pCore
import NIOCore
import Sodium

/// The secured data path: the Noise frames of each socket read opened into one buffer whose
/// slices are handed on; outgoing frames built and sealed in place, one buffer per flush.
extension Libp2pConnection {
    /// Socket bytes after the Noise handshake: completes a frame split across reads, then opens
    /// every whole frame of `input`; an incomplete tail is kept for the next read.
    func receiveSecured(_ input: ByteBuffer) {
        var buffer = input
        if var partial = partialFrame {
            partialFrame = nil
            if partial.readableBytes < 2, var head = buffer.readSlice(length: min(2 - partial.readableBytes, buffer.readableBytes)) {
                partial.writeBuffer(&head)
            }
            if partial.readableBytes >= 2 {
                let need = 2 + Int(partial.getInteger(at: partial.readerIndex, as: UInt16.self)!) - partial.readableBytes
                if var body = buffer.readSlice(length: min(need, buffer.readableBytes)) { partial.writeBuffer(&body) }
            }
            guard openFrames(&partial), partialFrame == nil else { return }
        }
        if buffer.readableBytes > 0 { openFrames(&buffer) }
    }

    /// Opens the whole frames of `buffer` into one new plaintext buffer (decrypting into another
    /// buffer costs the cipher what decrypting in place does, and the socket's buffer is shared),
    /// keeps an incomplete tail in `partialFrame`, then hands each plaintext on as a slice.
    /// False when the connection failed.
    @discardableResult
    private func openFrames(_ buffer: inout ByteBuffer) -> Bool {
        var frames: [(at: Int, length: Int)] = []
        var used = 0, total = 0
        buffer.withUnsafeReadableBytes { raw in
            while raw.count - used >= 2 {
                let length = Int(raw[used]) << 8 | Int(raw[used + 1])
                guard raw.count - used - 2 >= length else { break }
                frames.append((used + 2, length))
                total += max(0, length - AEAD.tagBytes)
                used += 2 + length
            }
        }
        var plain = channel.allocator.buffer(capacity: total)
        var pieces: [(at: Int, count: Int)] = []
        var failure: Libp2pProtocolError?
        _ = buffer.withUnsafeReadableBytes { raw in
            plain.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
                var written = 0
                for f in frames {
                    do throws(Libp2pProtocolError) {
                        let n = try cipher!.openFrame(
                            UnsafeRawBufferPointer(rebasing: raw[f.at..<(f.at + f.length)]),
                            into: UnsafeMutableRawBufferPointer(rebasing: out[written..<(written + max(0, f.length - AEAD.tagBytes))]))
                        pieces.append((written, n))
                        written += n
                    } catch {
                        failure = error
                        break
                    }
                }
                return written
            }
        }
        buffer.moveReaderIndex(forwardBy: used)
        if failure == nil, buffer.readableBytes > 0 {
            let frame = buffer.readableBytes >= 2 ? 2 + Int(buffer.getInteger(at: buffer.readerIndex, as: UInt16.self)!) : 2
            var keep = channel.allocator.buffer(capacity: max(frame, buffer.readableBytes))
            keep.writeBuffer(&buffer)
            partialFrame = keep
        }
        for p in pieces where p.count > 0 {
            receivePlaintext(plain.getSlice(at: plain.readerIndex + p.at, length: p.count)!)
            if case .closed = phase { return false }
        }
        if let failure {
            fail(Libp2pError(.handshakeFailed, "\(describe()): \(failure.message)"))
            return false
        }
        return true
    }

    /// Appends one Noise frame to `out`: `fill` writes at most ``NoiseTransportCipher/maxPlaintext``
    /// bytes of plaintext, which are then sealed where they lie.
    func appendFrame(to out: inout ByteBuffer, _ fill: (inout ByteBuffer) -> Void) {
        let start = out.writerIndex
        out.writeInteger(UInt16(0))
        fill(&out)
        let count = out.writerIndex - start - 2
        out.writeRepeatingByte(0, count: AEAD.tagBytes)
        let offset = start - out.readerIndex
        out.withUnsafeMutableReadableBytes { raw in
            _ = cipher!.sealFrameInPlace(UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + count + 2 + AEAD.tagBytes)]), plaintextCount: count)
        }
    }

    /// Appends `plain` as Noise frames of at most ``NoiseTransportCipher/maxPlaintext`` bytes.
    func appendFrames(to out: inout ByteBuffer, _ plain: [UInt8]) {
        var offset = 0
        while offset < plain.count {
            let n = min(NoiseTransportCipher.maxPlaintext, plain.count - offset)
            appendFrame(to: &out) { $0.writeBytes(plain[offset..<(offset + n)]) }
            offset += n
        }
    }

    /// A buffer for `plaintext` bytes of frames.
    func frameBuffer(plaintext: Int) -> ByteBuffer {
        channel.allocator.buffer(capacity: plaintext + (plaintext / NoiseTransportCipher.maxPlaintext + 2) * (2 + AEAD.tagBytes))
    }
}

extension ByteBuffer {
    /// Writes a yamux header's 12 bytes.
    mutating func writeYamuxHeader(_ h: YamuxHeader) {
        writeInteger(UInt8(0))
        writeInteger(h.type.rawValue)
        writeInteger(h.flags.rawValue)
        writeInteger(h.streamID)
        writeInteger(h.length)
    }
}
