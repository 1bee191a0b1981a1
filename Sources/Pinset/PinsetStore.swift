public import ClusterModel
public import Multiformats

/// One live element of the add-wins map: a value added for a key by one node.
public struct PinElement: Hashable, Sendable {
    /// The CID of the node that added it (unique per key: a node adds a key at most once).
    public var id: CID
    /// The height of that node.
    public var priority: UInt64
    /// The element's value: the added pin, or the winning re-allocation's pin (`overlay`).
    public var pin: Pin
    /// The re-allocation whose value `pin` is, if any (`Specs/pinset-crdt.md`, "Re-allocation").
    public var overlay: Overlay?

    /// Which re-allocation of an element is in force: the one with the highest priority, ties
    /// broken by the larger id, as between elements. Re-allocations never remove or add an
    /// element, so they cannot bring back a removed pin.
    public struct Overlay: Hashable, Sendable {
        /// The CID of the node that re-allocated the element.
        public var id: CID
        /// That node's height.
        public var priority: UInt64

        public init(id: CID, priority: UInt64) {
            self.id = id
            self.priority = priority
        }

        public func wins(over other: Overlay) -> Bool {
            priority != other.priority ? priority > other.priority : other.id < id
        }

        /// The stored form: 8 bytes of priority (big-endian), then the id's bytes.
        public var packed: [UInt8] {
            var out = (0..<8).map { UInt8(truncatingIfNeeded: priority >> (56 - 8 * $0)) }
            out += id.bytes
            return out
        }

        public init(packed b: [UInt8]) throws(PinsetError) {
            guard b.count > 8, let id = try? CID(bytes: Array(b[8...])) else {
                throw PinsetError(.storage, "a stored re-allocation mark is damaged (\(b.count) bytes)")
            }
            self.id = id
            priority = b[..<8].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    public init(id: CID, priority: UInt64, pin: Pin, overlay: Overlay? = nil) {
        self.id = id
        self.priority = priority
        self.pin = pin
        self.overlay = overlay
    }

    /// The merge rule between live elements of one key: the highest priority wins; equal
    /// priorities are broken by the larger id (binary CID order), so every peer picks the same.
    public func wins(over other: PinElement) -> Bool {
        priority != other.priority ? priority > other.priority : other.id < id
    }
}

/// Where a DAG node sits: its height and its parents.
public struct NodeLinks: Hashable, Sendable {
    public var height: UInt64
    public var parents: [CID]

    public init(height: UInt64, parents: [CID]) {
        self.height = height
        self.parents = parents
    }
}

/// The storage the pinset rules read and write. Every mutation the rules make for one node
/// happens between two calls of the caller's choosing, so a store backed by a database runs
/// them inside one transaction (all of a node or none of it).
public protocol PinsetStore {
    /// The live elements of `key`, winner first; empty when the key is not in the set.
    func elements(of key: CID) throws -> [PinElement]
    /// Replaces the live elements of `key` (winner first); empty removes the key.
    mutating func setElements(_ elements: [PinElement], of key: CID) throws
    /// Stores `element` as the only element of `key` if the key has none; false (and no
    /// change) otherwise. The fast path for the common case, a key added for the first time.
    mutating func insertIfAbsent(_ element: PinElement, of key: CID) throws -> Bool
    /// The links of an applied node, `nil` when it has not been applied.
    func links(of node: CID) throws -> NodeLinks?
    /// The encoded bytes of an applied node.
    func nodeBytes(_ node: CID) throws -> [UInt8]?
    /// Records an applied node.
    mutating func insertNode(_ node: CID, links: NodeLinks, bytes: [UInt8]) throws
    /// The current heads (applied nodes no applied node links).
    func heads() throws -> [CID]
    /// Replaces `removing` by `adding` in the heads.
    mutating func updateHeads(removing: [CID], adding: CID) throws
}

extension PinsetStore {
    public mutating func insertIfAbsent(_ element: PinElement, of key: CID) throws -> Bool {
        guard try elements(of: key).isEmpty else { return false }
        try setElements([element], of: key)
        return true
    }
}

/// An in-memory store: for tests, the simulator and the apply benchmark's baseline.
public struct MemoryPinsetStore: PinsetStore, Sendable {
    public private(set) var state: [CID: [PinElement]] = [:]
    public private(set) var nodes: [CID: (links: NodeLinks, bytes: [UInt8])] = [:]
    private var headSet: Set<CID> = []

    public init() {}

    public func elements(of key: CID) -> [PinElement] { state[key] ?? [] }
    public mutating func setElements(_ elements: [PinElement], of key: CID) { state[key] = elements.isEmpty ? nil : elements }
    public func links(of node: CID) -> NodeLinks? { nodes[node]?.links }
    public func nodeBytes(_ node: CID) -> [UInt8]? { nodes[node]?.bytes }
    public mutating func insertNode(_ node: CID, links: NodeLinks, bytes: [UInt8]) { nodes[node] = (links, bytes) }
    public func heads() -> [CID] { headSet.sorted() }
    public mutating func updateHeads(removing: [CID], adding: CID) {
        for r in removing { headSet.remove(r) }
        headSet.insert(adding)
    }

    /// The materialised state: every key's winning pin.
    public var pins: [CID: Pin] { state.mapValues { $0[0].pin } }
}
