import Multiformats

/// One want the server holds for a peer.
struct BitswapServerWant: Sendable, Equatable {
    var type: BitswapWantType
    var priority: Int32
    var sendDontHave: Bool
    /// Arrival order, to break priority ties.
    var seq: UInt64
    var answeredDontHave = false
    /// Found, but the peer's queue was full: look it up again when the queue drains.
    var deferred = false

    func order(before other: BitswapServerWant) -> Bool {
        priority != other.priority ? priority > other.priority : seq < other.seq
    }
}

/// An answer waiting to go to a peer.
enum BitswapServerResponse: Sendable, Equatable {
    case block(CID, [UInt8])
    case have(CID)
    case dontHave(CID)

    var cid: CID {
        switch self {
        case .block(let c, _), .have(let c), .dontHave(let c): c
        }
    }

    /// Bytes this answer adds to a message (a close upper bound of its encoding).
    var wireBytes: Int {
        switch self {
        case .block(let cid, let data): data.count + cid.bytes.count + 16
        case .have(let cid), .dontHave(let cid): cid.bytes.count + 8
        }
    }
}

/// What the server knows of one peer: its wants and the answers queued for it.
struct BitswapPeerLedger: Sendable {
    var wants: [CID: BitswapServerWant] = [:]
    private(set) var queue: [(response: BitswapServerResponse, priority: Int32, seq: UInt64)] = []
    /// Bytes of the blocks in `queue`.
    private(set) var queuedBytes = 0
    /// Bytes handed to the shell in messages not yet reported sent.
    var outstandingBytes = 0
    private var seq: UInt64 = 0

    mutating func nextSeq() -> UInt64 {
        seq += 1
        return seq
    }

    mutating func enqueue(_ response: BitswapServerResponse, priority: Int32) {
        queue.append((response, priority, nextSeq()))
        if case .block(_, let data) = response { queuedBytes += data.count }
    }

    mutating func dropQueued(_ cid: CID) {
        queue.removeAll { item in
            guard item.response.cid == cid else { return false }
            if case .block(_, let data) = item.response { queuedBytes -= data.count }
            return true
        }
    }

    /// Takes the highest-priority answers that fit about `target` bytes (at least one).
    mutating func takeMessage(target: Int) -> [BitswapServerResponse] {
        queue.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.seq < $1.seq }
        var size = 0
        var count = 0
        while count < queue.count, count == 0 || size + queue[count].response.wireBytes <= target {
            size += queue[count].response.wireBytes
            count += 1
        }
        let taken = queue.prefix(count).map(\.response)
        queue.removeFirst(count)
        for case .block(_, let data) in taken { queuedBytes -= data.count }
        return taken
    }
}
