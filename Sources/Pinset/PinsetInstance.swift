public import ClusterModel
public import Multiformats
public import Sodium
import UnixFS

/// Which authors may change the state. Untrusted peers can still read (fetch nodes).
public enum TrustPolicy: Hashable, Sendable {
    /// `trusted_peers: ["*"]`.
    case everyone
    case peers(Set<PeerID>)

    public func trusts(_ peer: PeerID) -> Bool {
        switch self {
        case .everyone: true
        case .peers(let set): set.contains(peer)
        }
    }
}

/// One local write waiting to become part of a delta.
public enum PinsetOperation: Hashable, Sendable {
    case pin(Pin)
    case unpin(CID)
    /// A new value for a pin that stays pinned only while the pin does: the cluster moving a
    /// dead peer's allocations. It changes the elements the writer sees and never adds one, so
    /// a concurrent unpin still removes the pin (`Specs/pinset-crdt.md`, "Re-allocation").
    /// `basis`: the elements the value was derived from (read with it); only those still live
    /// are re-allocated, so a user's update committed in between is not overwritten with the
    /// older value. nil: every live element.
    case reallocate(Pin, basis: [CID]? = nil)

    public var key: CID {
        switch self {
        case .pin(let p), .reallocate(let p, _): p.cid
        case .unpin(let c): c
        }
    }

    /// The value written, for a pin or a re-allocation.
    public var value: Pin? {
        switch self {
        case .pin(let p), .reallocate(let p, _): p
        case .unpin: nil
        }
    }
}

/// The rules of the shared pinset (pure: no I/O beyond the store it is handed, no clock).
///
/// Nodes are applied in causal order only: a node whose parents are not all applied is
/// refused with `.missingParents`, and the sync layer fetches the ancestors first. So a
/// tombstone always meets the elements it names, and the state never holds tombstones.
public struct PinsetInstance: Sendable {
    public var trust: TrustPolicy

    public init(trust: TrustPolicy) { self.trust = trust }

    public struct Applied: Sendable {
        public let cid: CID
        public let node: DeltaNode
        /// Keys whose winning pin changed (added, replaced or removed).
        public let changedKeys: [CID]
    }

    /// Decodes, verifies and applies one encoded node. Returns `nil` when it was applied before.
    public func apply(_ bytes: [UInt8], to store: inout some PinsetStore) throws(PinsetError) -> Applied? {
        let cid = DeltaNode.cid(of: bytes)
        if try storage({ try store.links(of: cid) }) != nil { return nil }
        return try apply(try DeltaNode(decoding: bytes), cid: cid, bytes: bytes, to: &store)
    }

    /// Applies a decoded node whose `bytes` and `cid` the caller computed.
    public func apply(_ node: DeltaNode, cid: CID, bytes: [UInt8], to store: inout some PinsetStore) throws(PinsetError) -> Applied? {
        if try storage({ try store.links(of: cid) }) != nil { return nil }
        guard trust.trusts(node.author) else {
            throw PinsetError(.untrusted, "delta \(cid) is signed by \(node.author), which is not in trusted_peers; ignored")
        }
        guard node.hasValidSignature else {
            throw PinsetError(.badSignature, "delta \(cid) does not carry a valid signature of its author \(node.author)")
        }
        var expected: UInt64 = 1
        var missing: [CID] = []
        for p in node.parents {
            if let l = try storage({ try store.links(of: p) }) { expected = max(expected, l.height + 1) } else { missing.append(p) }
        }
        guard missing.isEmpty else {
            throw PinsetError(.missingParents, "delta \(cid) links \(missing.count) node(s) not applied yet, e.g. \(missing[0])")
        }
        guard expected == node.height else {
            throw PinsetError(.badHeight, "delta \(cid) claims height \(node.height) but its parents give \(expected)")
        }
        var changed: [CID] = []
        try storage {
            for r in node.removes {
                let before = try store.elements(of: r.key)
                guard !before.isEmpty else { continue }
                let tomb = Set(r.ids)
                let after = before.filter { !tomb.contains($0.id) }
                if after.count != before.count {
                    try store.setElements(after, of: r.key)
                    if after.first != before.first { changed.append(r.key) }
                }
            }
            for pin in node.adds {
                let new = PinElement(id: cid, priority: node.height, pin: pin)
                if try store.insertIfAbsent(new, of: pin.cid) {
                    changed.append(pin.cid)
                    continue
                }
                var elements = try store.elements(of: pin.cid)
                let oldWinner = elements.first
                if let w = oldWinner, !new.wins(over: w) {
                    let at = elements.firstIndex { new.wins(over: $0) } ?? elements.count
                    elements.insert(new, at: at)
                } else {
                    elements.insert(new, at: 0)
                    changed.append(pin.cid)
                }
                try store.setElements(elements, of: pin.cid)
            }
            for r in node.reallocations {
                var elements = try store.elements(of: r.pin.cid)
                let overlay = PinElement.Overlay(id: cid, priority: node.height)
                let targets = Set(r.targets)
                var winnerChanged = false
                var any = false
                // Only the elements the writer saw, and only those still live: a target a
                // concurrent node removed stays removed (its re-allocation is moot).
                for i in elements.indices where targets.contains(elements[i].id) {
                    if let o = elements[i].overlay, !overlay.wins(over: o) { continue }
                    elements[i].pin = r.pin
                    elements[i].overlay = overlay
                    any = true
                    if i == 0 { winnerChanged = true }
                }
                guard any else { continue }
                try store.setElements(elements, of: r.pin.cid)
                if winnerChanged { changed.append(r.pin.cid) }
            }
            try store.insertNode(cid, links: NodeLinks(height: node.height, parents: node.parents), bytes: bytes)
            try store.updateHeads(removing: node.parents, adding: cid)
        }
        return Applied(cid: cid, node: node, changedKeys: changed)
    }

    /// Makes and signs the next local delta from the front of `operations`, as many as fit in
    /// one node, removing them from `operations`. The delta links the current heads; an
    /// add tombstones the values it replaces, a remove tombstones every value it sees and a
    /// re-allocation overlays every value it sees. Returns `nil` when nothing remains
    /// (removes and re-allocations of absent keys are dropped).
    public func makeDelta(
        _ operations: inout ArraySlice<PinsetOperation>, author: Ed25519.PrivateKey, authorID: PeerID,
        in store: some PinsetStore
    ) throws(PinsetError) -> (cid: CID, node: DeltaNode, bytes: [UInt8])? {
        let heads = try storage { try store.heads() }
        var height: UInt64 = 1
        for h in heads {
            guard let l = try storage({ try store.links(of: h) }) else {
                throw PinsetError(.storage, "head \(h) has no stored node: the store is inconsistent")
            }
            height = max(height, l.height + 1)
        }
        var node = DeltaNode(parents: heads, height: height, author: authorID, adds: [], removes: [], reallocations: [])
        // A fixed allowance for the envelope (version, height, author, parents, signature).
        var size = 200 + heads.count * 40
        var seen = Set<CID>()
        while let op = operations.first {
            guard !seen.contains(op.key) else { break }  // a key at most once per node: the rest waits for the next
            var ids = try storage { try store.elements(of: op.key).map(\.id) }
            if case .reallocate(_, let basis) = op {
                if let basis { ids = ids.filter(basis.contains) }
                if ids.isEmpty {
                    operations.removeFirst()  // unpinned or replaced meanwhile: nothing to re-allocate
                    continue
                }
            }
            // Upper bounds of the CBOR each part takes (a head is at most 3 bytes here): the
            // remove entry [key, [ids…]] and, for a pin, the add entry [key, value] too; a
            // re-allocation is [key, [ids…], value].
            let key = op.key.bytes.count
            var cost = ids.isEmpty ? 0 : 1 + 3 + key + 3 + ids.reduce(0) { $0 + 3 + $1.bytes.count }
            if let p = op.value { cost += 1 + 3 + key + PinCodec.encode(p).count }
            if size + cost > DeltaNode.maxBytes {
                guard !node.adds.isEmpty || !node.removes.isEmpty || !node.reallocations.isEmpty else {
                    throw PinsetError(.tooLarge, "one operation on \(op.key) needs \(cost) bytes, over the node limit \(DeltaNode.maxBytes)")
                }
                break
            }
            operations.removeFirst()
            seen.insert(op.key)
            switch op {
            case .pin(let p):
                if !ids.isEmpty { node.removes.append((op.key, ids)) }
                node.adds.append(p)
            case .unpin:
                if !ids.isEmpty { node.removes.append((op.key, ids)) }
            case .reallocate(let p, _):
                node.reallocations.append((ids, p))
            }
            size += cost
        }
        guard !node.adds.isEmpty || !node.removes.isEmpty || !node.reallocations.isEmpty else { return nil }
        node.sign(with: author)
        let bytes = node.encoded()
        guard bytes.count <= DeltaNode.maxBytes else {
            throw PinsetError(.tooLarge, "delta of \(bytes.count) bytes exceeds \(DeltaNode.maxBytes); the size estimate is wrong")
        }
        return (DeltaNode.cid(of: bytes), node, bytes)
    }

    private func storage<T>(_ body: () throws -> T) throws(PinsetError) -> T {
        do { return try body() } catch let e as PinsetError { throw e } catch {
            throw PinsetError(.storage, "pinset storage failed: \(error)")
        }
    }
}
