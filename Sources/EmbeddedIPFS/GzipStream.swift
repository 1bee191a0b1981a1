import CZlib

/// A streaming gzip compressor over zlib (RFC 1952 framing), for `get --compress`.
final class GzipStream {
    struct GzipError: Error, CustomStringConvertible { let description: String }

    private var stream = z_stream()
    private var finished = false

    /// `level` 1…9, or -1 for zlib's default (6, as Go's `gzip.DefaultCompression`).
    init(level: Int32) throws {
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        let rc = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw GzipError(description: "gzip: cannot start the compressor (zlib error \(rc))") }
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `input`; returns what zlib produced so far (often nothing for small input).
    func compress(_ input: [UInt8]) throws -> [UInt8] { try run(input, flush: Z_NO_FLUSH) }

    /// Ends the stream: the remaining compressed bytes and the gzip trailer.
    func finish() throws -> [UInt8] {
        guard !finished else { return [] }
        finished = true
        return try run([], flush: Z_FINISH)
    }

    private func run(_ input: [UInt8], flush: Int32) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var input = input
        try input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { outBuf -> (Int32, Int) in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let rc = deflate(&stream, flush)
                    return (rc, outBuf.count - Int(stream.avail_out))
                }
                guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                    throw GzipError(description: "gzip: compression failed (zlib error \(rc))")
                }
                out += chunk[..<produced]
                if flush == Z_FINISH {
                    if rc == Z_STREAM_END { break }
                } else if stream.avail_in == 0 && produced < chunk.count {
                    break
                }
            }
            stream.next_in = nil
        }
        return out
    }
}
