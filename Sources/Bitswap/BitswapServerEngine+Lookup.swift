public import Multiformats

extension BitswapServerEngine {
    /// The shell read `cid`: its bytes, or nil when the blockstore lacks it.
    /// Answers every peer that still wants it (see the rules on ``BitswapServerEngine``).
    public mutating func onLookup(_ cid: CID, block: [UInt8]?) -> [BitswapServerAction] {
        onLookup([(cid, block)])
    }

    /// Several lookups at once; their answers share messages (report a lookUp action's CIDs
    /// together, or in batches, so small blocks are packed rather than sent one a message).
    public mutating func onLookup(_ results: [(CID, [UInt8]?)]) -> [BitswapServerAction] {
        var touched: Set<PeerID> = []
        for (cid, block) in results {
            pendingLookups.remove(cid)
            for peer in wantedBy[cid] ?? [] {
                guard var ledger = ledgers[peer], let want = ledger.wants[cid] else { continue }
                answer(cid, want, block: block, peer: peer, ledger: &ledger)
                ledgers[peer] = ledger
                touched.insert(peer)
            }
        }
        return touched.sorted().flatMap { peer in flush(peer).map { .send(peer, $0) } }
    }

    /// A block was stored locally: look it up for the peers that want it.
    public mutating func onBlockStored(_ cid: CID) -> [BitswapServerAction] {
        let wants = (wantedBy[cid] ?? []).compactMap { ledgers[$0]?.wants[cid] }
        guard let first = wants.min(by: { $0.order(before: $1) }) else { return [] }
        return lookUp([(cid, first)], force: true)
    }

    /// `message` (from a `.send` action) was written to `peer` or failed: its bytes are no
    /// longer outstanding. Sends what waited, and looks up deferred wants once the queue drains.
    public mutating func onMessageSent(to peer: PeerID, _ message: BitswapMessage) -> [BitswapServerAction] {
        guard var ledger = ledgers[peer] else { return [] }
        ledger.outstandingBytes = max(0, ledger.outstandingBytes - Self.accountedBytes(message))
        ledgers[peer] = ledger
        var actions: [BitswapServerAction] = flush(peer).map { .send(peer, $0) }
        if ledgers[peer]?.queuedBytes == 0 { actions = lookUpDeferred(of: peer) + actions }
        return actions
    }

    /// The bytes a sent message counts against its peer's outstanding budget.
    public static func accountedBytes(_ message: BitswapMessage) -> Int {
        message.payload.reduce(0) { $0 + $1.data.count + 16 } + message.blocks.reduce(0) { $0 + $1.count + 8 }
            + message.blockPresences.reduce(0) { $0 + $1.cid.bytes.count + 8 }
    }

    private mutating func answer(_ cid: CID, _ want: BitswapServerWant, block: [UInt8]?, peer: PeerID, ledger: inout BitswapPeerLedger) {
        guard let block else {
            if want.sendDontHave && !want.answeredDontHave {
                ledger.enqueue(.dontHave(cid), priority: want.priority)
                ledger.wants[cid]?.answeredDontHave = true
            }
            return
        }
        if want.type == .block || block.count <= settings.wantHaveReplaceBytes {
            if ledger.queuedBytes > 0 && ledger.queuedBytes + block.count > settings.maxQueuedBytesPerPeer {
                ledger.wants[cid]?.deferred = true
                return
            }
            ledger.enqueue(.block(cid, block), priority: want.priority)
        } else {
            ledger.enqueue(.have(cid), priority: want.priority)
        }
        ledger.wants[cid] = nil
        unindex(cid, peer)
    }

    private mutating func lookUpDeferred(of peer: PeerID) -> [BitswapServerAction] {
        guard var ledger = ledgers[peer] else { return [] }
        let deferred = ledger.wants.filter(\.value.deferred).sorted { $0.value.order(before: $1.value) }
            .prefix(settings.deferredLookupBatch)
        guard !deferred.isEmpty else { return [] }
        for (cid, _) in deferred { ledger.wants[cid]?.deferred = false }
        ledgers[peer] = ledger
        return lookUp(deferred.map { ($0.key, $0.value) }, force: true)
    }

    /// Messages for `peer` while it has answers queued and room in its outstanding budget.
    mutating func flush(_ peer: PeerID) -> [BitswapMessage] {
        guard var ledger = ledgers[peer] else { return [] }
        var out: [BitswapMessage] = []
        while ledger.outstandingBytes < settings.maxOutstandingBytesPerPeer {
            let responses = ledger.takeMessage(target: settings.targetMessageBytes)
            guard !responses.isEmpty else { break }
            var m = BitswapMessage()
            for r in responses {
                switch r {
                case .block(let cid, let data):
                    m.payload.append(BitswapPayloadBlock(prefix: BitswapCIDPrefix(of: cid), data: data))
                    counters.blocksSent += 1
                    counters.blockBytesSent += data.count
                case .have(let cid):
                    m.blockPresences.append(BitswapBlockPresence(cid: cid, type: .have))
                    counters.havesSent += 1
                case .dontHave(let cid):
                    m.blockPresences.append(BitswapBlockPresence(cid: cid, type: .dontHave))
                    counters.dontHavesSent += 1
                }
            }
            m.pendingBytes = Int32(clamping: ledger.queuedBytes)
            ledger.outstandingBytes += Self.accountedBytes(m)
            out.append(m)
        }
        ledgers[peer] = ledger
        return out
    }
}
