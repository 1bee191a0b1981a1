/// Decides where chunks end, exactly as kubo's splitters do, over a buffer of pending bytes.
///
/// `next` returns the length of the next chunk, or nil when it needs more input (or, at the end,
/// when there are no more chunks). `pending` always starts at the current chunk (what was not
/// returned yet stays in it). No chunker returns an empty chunk (kubo's buzhash did before
/// kubo 0.5).
public struct ChunkCutter: Sendable {
    public let spec: ChunkerSpec
    private var finished = false
    private var rabin: RabinState?

    public init(_ spec: ChunkerSpec) throws(UnixFSError) {
        try spec.validate()
        self.spec = spec
        if case .rabin(let min, let avg, let max) = spec {
            rabin = RabinState(min: min, avg: avg, max: max)
        }
    }

    /// The length of the next chunk at the start of `pending`, or nil.
    public mutating func next(_ pending: UnsafeRawBufferPointer, atEnd: Bool) -> Int? {
        guard !finished else { return nil }
        switch spec {
        case .size(let size):
            if pending.count >= size { return size }
            guard atEnd else { return nil }
            if pending.isEmpty {
                finished = true
                return nil
            }
            return pending.count
        case .buzhash:
            guard pending.count >= Buzhash.maxChunk || atEnd else { return nil }
            let available = min(pending.count, Buzhash.maxChunk)
            if atEnd && available < Buzhash.minChunk {
                // kubo returns the remainder and stops; since kubo 0.5 (kubo issue #6953) never
                // an empty one, so a file ending on a cut, or an empty file, has no empty leaf.
                finished = true
                return available == 0 ? nil : available
            }
            return Buzhash.cut(UnsafeRawBufferPointer(rebasing: pending[0..<available]))
        case .rabin:
            // `pending` starts at the current chunk, of which the state has seen `count` bytes.
            let seen = rabin!.count
            if let n = rabin!.scan(UnsafeRawBufferPointer(rebasing: pending[seen...])) { return seen + n }
            guard atEnd else { return nil }
            finished = true
            // kubo returns the last partial chunk, when any bytes are left.
            return pending.isEmpty ? nil : pending.count
        }
    }
}

/// kubo's buzhash splitter: a 32-byte rolling window over a fixed byte table, cutting where the
/// low 17 bits of the state are zero, between 128 KiB and 512 KiB.
enum Buzhash {
    static let minChunk = 128 << 10
    static let maxChunk = 512 << 10
    static let mask: UInt32 = 1 << 17 - 1
    static let window = 32

    /// The cut point within `buffer` (at least `minChunk` bytes, at most `maxChunk`).
    static func cut(_ buffer: UnsafeRawBufferPointer) -> Int {
        let table = BuzhashTable.values
        var state: UInt32 = 0
        var i = minChunk - window
        while i < minChunk {
            state = (state << 1 | state >> 31) ^ table[Int(buffer[i])]
            i += 1
        }
        let last = buffer.count - window - 1
        i = minChunk - window
        while i <= last {
            if state & mask == 0 { break }
            state = (state << 1 | state >> 31) ^ table[Int(buffer[i])] ^ table[Int(buffer[i + window])]
            i += 1
        }
        return i + window
    }
}
