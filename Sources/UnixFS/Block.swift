public import Multiformats

/// A block: its CID and its bytes.
public struct Block: Hashable, Sendable {
    public let cid: CID
    public let bytes: [UInt8]

    public init(cid: CID, bytes: [UInt8]) {
        self.cid = cid
        self.bytes = bytes
    }
}

/// A node of an imported DAG as its parent links it.
public struct ImportedNode: Hashable, Sendable {
    public let cid: CID
    /// Bytes of file data under this node (UnixFS `filesize`).
    public let fileSize: UInt64
    /// This block's size plus its children's cumulative sizes (dag-pb `Tsize`, `ipfs add`'s Size).
    public let cumulativeSize: UInt64

    public init(cid: CID, fileSize: UInt64, cumulativeSize: UInt64) {
        self.cid = cid
        self.fileSize = fileSize
        self.cumulativeSize = cumulativeSize
    }
}
