internal import CLZ4
public import CodedError

/// LZ4 block compression (the raw block format, no frame) through liblz4.
///
/// Decompression is always bounded by the caller: the output size is either known exactly
/// (a record header carries it) or capped, and malformed input is a typed error, never a crash.
public enum LZ4 {
    /// The largest input liblz4 accepts (LZ4_MAX_INPUT_SIZE).
    public static let maxInputBytes = 0x7E00_0000

    /// The worst-case compressed size of `inputBytes` bytes.
    public static func compressBound(_ inputBytes: Int) -> Int {
        precondition(inputBytes >= 0 && inputBytes <= maxInputBytes, "LZ4 input of \(inputBytes) bytes is out of range")
        return Int(LZ4_compressBound(Int32(inputBytes)))
    }

    /// Compresses `input` into `output`; returns the compressed length, or nil when it does not
    /// fit in `output` (so a caller can send the data uncompressed instead).
    public static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, acceleration: Int = 1) -> Int? {
        precondition(input.count <= maxInputBytes, "LZ4 input of \(input.count) bytes exceeds \(maxInputBytes)")
        if input.isEmpty || output.isEmpty {
            // An empty input compresses to the single token 0x00.
            guard input.isEmpty, output.count >= 1 else { return nil }
            output[0] = 0
            return 1
        }
        let n = LZ4_compress_fast(
            input.baseAddress!.assumingMemoryBound(to: CChar.self),
            output.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(input.count), Int32(min(output.count, Int(Int32.max))), Int32(max(acceleration, 1)))
        return n > 0 ? Int(n) : nil
    }

    /// Compresses `input` into a new array.
    public static func compress(_ input: [UInt8], acceleration: Int = 1) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: compressBound(input.count))
        let n = out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in compress(i, into: o, acceleration: acceleration) }
        }
        // The bound always fits.
        out.removeSubrange(n!...)
        return out
    }

    /// Decompresses `input` into `output`; returns the decompressed length. Throws when the
    /// input is malformed or would decompress to more than `output.count` bytes.
    public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(LZ4Error) -> Int {
        guard !input.isEmpty else {
            throw LZ4Error(.malformed, "empty LZ4 block (even empty data compresses to one byte)")
        }
        guard input.count <= maxInputBytes, output.count <= maxInputBytes else {
            throw LZ4Error(.tooLarge, "LZ4 block or output over \(maxInputBytes) bytes")
        }
        var scratch: CChar = 0
        let n = withUnsafeMutablePointer(to: &scratch) { sp in
            LZ4_decompress_safe(
                input.baseAddress!.assumingMemoryBound(to: CChar.self),
                output.baseAddress?.assumingMemoryBound(to: CChar.self) ?? sp,
                Int32(input.count), Int32(output.count))
        }
        guard n >= 0 else {
            throw LZ4Error(.malformed, "LZ4 block is malformed or decompresses to more than \(output.count) bytes")
        }
        return Int(n)
    }

    /// Decompresses a block whose original size is known; the result must be exactly that size.
    public static func decompress(_ input: [UInt8], originalSize: Int) throws(LZ4Error) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: originalSize)
        let n = try out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in Result { () throws(LZ4Error) -> Int in try decompress(i, into: o) } }
        }.get()
        guard n == originalSize else {
            throw LZ4Error(.sizeMismatch, "LZ4 block decompressed to \(n) bytes, expected \(originalSize)")
        }
        return out
    }

    /// Decompresses a block of unknown original size, refusing to produce more than `maxSize` bytes.
    public static func decompress(_ input: [UInt8], maxSize: Int) throws(LZ4Error) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: maxSize)
        let n = try out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in Result { () throws(LZ4Error) -> Int in try decompress(i, into: o) } }
        }.get()
        out.removeSubrange(n...)
        return out
    }
}

/// An LZ4 failure.
public struct LZ4Error: CodedError {
    public let code: ErrorCode<LZ4Error>
    public let message: String

    public init(_ code: ErrorCode<LZ4Error>, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == LZ4Error {
    /// Not a valid block, or a block that would exceed the caller's bound.
    public static let malformed = Self("malformed")
    /// The block decompressed to a size other than the one announced.
    public static let sizeMismatch = Self("sizeMismatch")
    /// Over liblz4's size limit.
    public static let tooLarge = Self("tooLarge")
}
