import Multiformats

/// Runs `body(i)` for every i in 0..<count, possibly concurrently; returns when all are done.
/// Injected by the caller (the pure core starts no threads of its own).
public typealias ParallelFor = @Sendable (_ count: Int, _ body: @Sendable (Int) -> Void) -> Void

/// Imports one file as a UnixFS DAG, streaming: write bytes in pieces of any size, then
/// finish. Memory holds at most one pending chunk, the chunks of the current write, and one
/// partial node per tree level.
///
/// Blocks (when kept) accumulate until ``takeBlocks()``; callers drain them after each write.
public struct FileImporter: Sendable {
    public let settings: ImportSettings
    private let encoder: NodeEncoder
    private var cutter: ChunkCutter
    private var pending: [UInt8] = []
    private var balanced: BalancedBuilder
    private var trickle: TrickleBuilder
    private var blocks: [Block] = []
    private var finished = false
    /// Bytes written so far.
    public private(set) var bytesWritten: UInt64 = 0
    private let parallelFor: ParallelFor?

    /// - Parameters:
    ///   - keepBlocks: keep every block for ``takeBlocks()`` (false computes CIDs only).
    ///   - parallelFor: when given, the leaves of one write are hashed through it.
    public init(settings: ImportSettings, keepBlocks: Bool, parallelFor: ParallelFor? = nil) throws(UnixFSError) {
        try settings.validate()
        self.settings = settings
        encoder = NodeEncoder(settings: settings, keepBlocks: keepBlocks)
        cutter = try ChunkCutter(settings.chunker)
        balanced = BalancedBuilder(maxLinks: settings.maxLinks)
        trickle = TrickleBuilder(maxLinks: settings.maxLinks)
        self.parallelFor = parallelFor
    }

    /// Adds file bytes.
    public mutating func write(_ data: UnsafeRawBufferPointer) {
        precondition(!finished, "write after finish")
        bytesWritten += UInt64(data.count)
        if pending.isEmpty {
            // Cut straight from the caller's buffer; keep only the incomplete tail.
            let used = consume(data, atEnd: false)
            pending.append(contentsOf: data[used...])
        } else {
            pending.append(contentsOf: data)
            let used = pending.withUnsafeBytes { consume($0, atEnd: false) }
            pending.removeFirst(used)
        }
    }

    public mutating func write(_ data: [UInt8]) {
        data.withUnsafeBytes { write($0) }
    }

    /// Cuts every chunk available in `buffer`, encodes the leaves and adds them; returns the
    /// number of bytes consumed.
    private mutating func consume(_ buffer: UnsafeRawBufferPointer, atEnd: Bool) -> Int {
        var ranges: [Range<Int>] = []
        var offset = 0
        while let n = cutter.next(UnsafeRawBufferPointer(rebasing: buffer[offset...]), atEnd: atEnd) {
            ranges.append(offset..<offset + n)
            offset += n
        }
        guard !ranges.isEmpty else { return 0 }
        let type: UnixFSData.DataType = settings.layout == .balanced ? .file : .raw
        let leaves: [EncodedNode]
        if let parallelFor, ranges.count > 1 {
            let enc = encoder
            let out = UnsafeMutableBufferPointer<EncodedNode?>.allocate(capacity: ranges.count)
            out.initialize(repeating: nil)
            defer { out.deallocate() }
            nonisolated(unsafe) let slots = out
            nonisolated(unsafe) let source = buffer
            let cuts = ranges
            parallelFor(cuts.count) { i in
                slots[i] = enc.leaf(UnsafeRawBufferPointer(rebasing: source[cuts[i]]), type: type)
            }
            leaves = out.map { $0! }
        } else {
            leaves = ranges.map { encoder.leaf(UnsafeRawBufferPointer(rebasing: buffer[$0]), type: type) }
        }
        for leaf in leaves { add(leaf) }
        return offset
    }

    private mutating func add(_ leaf: EncodedNode) {
        if let b = leaf.block { blocks.append(b) }
        switch settings.layout {
        case .balanced: balanced.add(leaf.node, encoder: encoder, blocks: &blocks)
        case .trickle: trickle.add(leaf.node, encoder: encoder, blocks: &blocks)
        }
    }

    /// Ends the file and returns its root. The root's block is the last one kept.
    public mutating func finish() -> ImportedNode {
        precondition(!finished, "finish called twice")
        finished = true
        let used = pending.withUnsafeBytes { consume($0, atEnd: true) }
        precondition(used == pending.count, "chunker left \(pending.count - used) bytes at the end")
        pending = []
        switch settings.layout {
        case .balanced:
            if let root = balanced.finish(encoder: encoder, blocks: &blocks) { return root }
            let empty = encoder.emptyFileLeaf()
            if let b = empty.block { blocks.append(b) }
            return empty.node
        case .trickle:
            return trickle.finish(encoder: encoder, blocks: &blocks)
        }
    }

    /// The blocks encoded since the last call, leaves before the nodes that link them.
    public mutating func takeBlocks() -> [Block] {
        defer { blocks = [] }
        return blocks
    }

    /// Imports a whole in-memory buffer.
    public static func importBytes(
        _ data: [UInt8], settings: ImportSettings, keepBlocks: Bool = false, parallelFor: ParallelFor? = nil
    ) throws(UnixFSError) -> (root: ImportedNode, blocks: [Block]) {
        var importer = try FileImporter(settings: settings, keepBlocks: keepBlocks, parallelFor: parallelFor)
        importer.write(data)
        let root = importer.finish()
        return (root, importer.takeBlocks())
    }
}
