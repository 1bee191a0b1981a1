public import Multiformats

/// Which nodes a peer lacks: the ancestors of `want` (inclusive) that are not ancestors of
/// `have` (inclusive), parents before children (`Specs/pinset-crdt.md`, "Fetch").
///
/// Walks from the highest node down. A node's flags are final when it is popped, because
/// every node that links it is higher and was popped before. The walk stops as soon as no
/// wanted node remains unexplained, so it touches the difference and the have-side nodes at
/// the same heights, never the whole history below the requester's frontier.
public enum SyncWalk {
    public static func missing(
        want: [CID], have: [CID], links: (CID) throws -> NodeLinks?
    ) rethrows -> [CID] {
        struct Entry: Comparable {
            let height: UInt64
            let cid: CID
            static func < (a: Entry, b: Entry) -> Bool { a.height != b.height ? a.height < b.height : a.cid < b.cid }
        }
        var heap = MaxHeap<Entry>()
        var flags: [CID: (want: Bool, have: Bool, links: NodeLinks)] = [:]
        var pendingWant = 0

        func mark(_ cid: CID, want: Bool) throws {
            if var f = flags[cid] {
                if want || f.have { return }
                f.have = true
                flags[cid] = f
                pendingWant -= 1
                return
            }
            guard let l = try links(cid) else { return }
            flags[cid] = (want, !want, l)
            if want { pendingWant += 1 }
            heap.push(Entry(height: l.height, cid: cid))
        }
        for h in have { try mark(h, want: false) }
        for w in want { try mark(w, want: true) }

        var out: [CID] = []
        while pendingWant > 0, let top = heap.pop() {
            let f = flags[top.cid]!
            if f.have {
                for p in f.links.parents { try mark(p, want: false) }
            } else {
                pendingWant -= 1
                out.append(top.cid)
                for p in f.links.parents { try mark(p, want: true) }
            }
        }
        return out.reversed()
    }
}

extension SyncWalk {
    /// What a requester says it has: `extra` (the heads of the page it just applied), its
    /// heads, their parents, then ancestors along each head's first-parent chain at distances
    /// 2, 4, 8, …,
    /// at most `limit` in all. A responder that does not know the heads (they are the
    /// requester's own recent writes) still finds a known ancestor among the samples, so it
    /// never resends the whole history; what it resends is bounded by the gap between samples.
    public static func frontier(
        heads: [CID], extra: [CID] = [], limit: Int = PinsetAnnouncement.maxHeads, links: (CID) throws -> NodeLinks?
    ) rethrows -> [CID] {
        var out: [CID] = []
        var seen = Set<CID>()
        func add(_ c: CID) {
            if out.count < limit, seen.insert(c).inserted { out.append(c) }
        }
        for e in extra.prefix(limit / 4) { add(e) }
        for h in heads.prefix(limit / 2) { add(h) }
        // Every parent of every head (a merge's parents are all likely known), then further
        // back along the first-parent chain.
        for h in heads.prefix(limit / 2) { for p in try links(h)?.parents ?? [] { add(p) } }
        for h in heads.prefix(limit / 2) {
            var node = h
            var distance = 0
            var next = 1
            while out.count < limit, let l = try links(node), let first = l.parents.first {
                node = first
                distance += 1
                if distance == next {
                    add(node)
                    next *= 2
                }
            }
        }
        return out
    }

    /// The nodes of a page (just applied) that no other node of the page links.
    public static func pageHeads(_ page: [CID], links: (CID) throws -> NodeLinks?) rethrows -> [CID] {
        var linked = Set<CID>()
        for c in page { for p in try links(c)?.parents ?? [] { linked.insert(p) } }
        return page.filter { !linked.contains($0) }
    }
}

/// A binary max-heap.
struct MaxHeap<Element: Comparable> {
    private var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] < items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var largest = i
            if l < items.count, items[largest] < items[l] { largest = l }
            if r < items.count, items[largest] < items[r] { largest = r }
            guard largest != i else { break }
            items.swapAt(i, largest)
            i = largest
        }
        return top
    }
}
