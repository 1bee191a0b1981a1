/// Cuts a daemon's NDJSON answer into its lines as the chunks arrive (the answers of
/// `block/put` and `dag/put` that the proxy pins from).
///
/// - A line is what comes before a `\n`; a `\r` before it is dropped, and so are blank lines
///   (spaces, tabs and `\r` only).
/// - A line over `limit` bytes before its newline (a `\r` counted) is refused: `feed` returns
///   nil at once, also while the line is still incomplete, so at most `limit` bytes are held.
/// - The bytes after the last newline are a last line, given by `finish`.
struct ProxyLineSplitter {
    static let defaultLimit = 1 << 20
    let limit: Int
    private(set) var pending: [UInt8] = []

    init(limit: Int = Self.defaultLimit) { self.limit = limit }

    /// The lines `chunk` completes, in order; nil when one is over the limit.
    mutating func feed(_ chunk: some Sequence<UInt8>) -> [[UInt8]]? {
        var lines: [[UInt8]] = []
        for byte in chunk {
            if byte == 0x0A {
                if let line = Self.trimmed(pending) { lines.append(line) }
                pending.removeAll(keepingCapacity: true)
                continue
            }
            guard pending.count < limit else { return nil }
            pending.append(byte)
        }
        return lines
    }

    /// The last line, when the answer did not end with a newline.
    mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return Self.trimmed(pending)
    }

    private static func trimmed(_ line: [UInt8]) -> [UInt8]? {
        var l = line[...]
        if l.last == 0x0D { l = l.dropLast() }
        guard l.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return nil }
        return Array(l)
    }
}
