import Multiformats

/// multistream-select 1.0.0's message framing: an unsigned-varint length, then the text and `\n`
/// (the length counts the newline).
///
/// - A message is at most ``maxLength`` bytes after the varint (newline included); longer is refused.
/// - The varint must be minimal and the message must end in `\n`; the text must be UTF-8.
public enum MultistreamMessage {
    public static let header = "/multistream/1.0.0"
    public static let notAvailable = "na"
    public static let maxLength = 1024

    /// The framed bytes of `text`.
    public static func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        encode(text, into: &out)
        return out
    }

    public static func encode(_ text: String, into out: inout [UInt8]) {
        let utf8 = Array(text.utf8)
        Varint.encode(UInt64(utf8.count + 1), into: &out)
        out += utf8
        out.append(0x0a)
    }

    /// Reads one message from `buffer` at `offset`: nil when more bytes are needed, else the text
    /// and the offset after it.
    public static func decode(_ buffer: [UInt8], at offset: Int = 0) -> Result<(text: String, end: Int), Libp2pProtocolError>? {
        var length = 0
        var i = offset
        var shift = 0
        while true {
            guard i < buffer.count else { return nil }
            let b = buffer[i]
            i += 1
            length |= Int(b & 0x7f) << shift
            if b & 0x80 == 0 {
                if b == 0 && i - offset > 1 {
                    return .failure(Libp2pProtocolError(.malformed, "multistream message length is not a minimal varint"))
                }
                break
            }
            shift += 7
            if shift > 14 { return .failure(tooLong(length)) }
        }
        guard length <= maxLength else { return .failure(tooLong(length)) }
        guard length >= 1 else { return .failure(Libp2pProtocolError(.malformed, "empty multistream message (no newline)")) }
        guard buffer.count - i >= length else { return nil }
        guard buffer[i + length - 1] == 0x0a else {
            return .failure(Libp2pProtocolError(.malformed, "multistream message does not end with a newline"))
        }
        guard let text = String(validating: buffer[i..<(i + length - 1)], as: UTF8.self) else {
            return .failure(Libp2pProtocolError(.malformed, "multistream message is not UTF-8"))
        }
        return .success((text, i + length))
    }

    private static func tooLong(_ length: Int) -> Libp2pProtocolError {
        Libp2pProtocolError(.tooLarge, "multistream message of \(length) bytes or more exceeds the limit of \(maxLength)")
    }
}
