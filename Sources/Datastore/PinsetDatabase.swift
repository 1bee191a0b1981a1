public import ClusterModel
import Foundation
public import GRDB
public import Multiformats
public import Pinset
public import Sodium

/// The pinset's durable storage: DAG nodes, heads and the materialised state in one SQLite
/// database (WAL, `synchronous=FULL`), with indexes by allocation peer, name and metadata.
///
/// Every node is applied inside one transaction together with the state changes it makes
/// (``write(_:)``), so a crash leaves either all of it or none of it, and an acknowledged
/// write survives `kill -9` and power loss.
///
/// An open database holds its directory's ``PinsetLock`` (`pinset.lock`) until ``close()``:
/// a second open of the same directory, in this process or another, fails with `inUse`.
public final class PinsetDatabase: Sendable {
    public let path: String
    private let pool: DatabasePool
    private let lock: PinsetLock
    /// Prepared statements per connection: preparing them for every read cost more than the
    /// read (a status listing reads once per CID).
    private let statements = StatementCache()
    private let undecodable = UndecodableRows()

    /// Opens (creating if needed) the database at `path`, after taking the lock of its
    /// directory (`inUse` when another process, or another open database, holds it).
    public init(path: String) throws(PinsetError) {
        self.path = path
        lock = try PinsetLock(directory: (path as NSString).deletingLastPathComponent)
        var config = Configuration()
        config.label = "pinset"
        config.prepareDatabase { db in try PinsetDatabase.tune(db) }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try PinsetDatabase.migrator.migrate(pool)
        } catch {
            throw PinsetError(
                .storage, "cannot open the pinset database \(path): \(error). Check the path and its permissions; the file is left as it is")
        }
    }

    /// Settings of every connection: `synchronous=FULL` (an acknowledged write survives power
    /// loss); a 64 MiB page cache; checkpoints every 20,000 pages instead of 1,000, so a page
    /// rewritten by many transactions is copied back to the database file once, not each time.
    public static func tune(_ db: Database) throws {
        try db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 20000; PRAGMA temp_store = MEMORY")
    }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE nodes(cid BLOB PRIMARY KEY, height INTEGER NOT NULL, parents BLOB NOT NULL, bytes BLOB NOT NULL) WITHOUT ROWID;
                    CREATE TABLE heads(cid BLOB PRIMARY KEY) WITHOUT ROWID;
                    CREATE TABLE pins(rid INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, id BLOB NOT NULL, priority INTEGER NOT NULL,
                                      value BLOB NOT NULL, name TEXT, type INTEGER NOT NULL, expire_at INTEGER);
                    CREATE TABLE peers(pid INTEGER PRIMARY KEY, peer BLOB NOT NULL UNIQUE);
                    CREATE INDEX pins_name ON pins(name) WHERE name IS NOT NULL;
                    CREATE INDEX pins_expire ON pins(expire_at) WHERE expire_at IS NOT NULL;
                    CREATE TABLE shadow(key BLOB NOT NULL, id BLOB NOT NULL, priority INTEGER NOT NULL, value BLOB NOT NULL,
                                        PRIMARY KEY(key, id)) WITHOUT ROWID;
                    CREATE TABLE allocations(pid INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY(pid, rid)) WITHOUT ROWID;
                    CREATE TABLE metadata(k TEXT NOT NULL, v TEXT NOT NULL, key BLOB NOT NULL, PRIMARY KEY(k, v, key)) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v2 snapshots") { db in
            try db.execute(
                sql: """
                    CREATE TABLE snapshot_blocks(cid BLOB PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID;
                    CREATE TABLE snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), root BLOB NOT NULL, bytes BLOB NOT NULL);
                    """)
        }
        // Re-allocations (`Specs/pinset-crdt.md`): the mark of the one in force on an element.
        m.registerMigration("v3 re-allocations") { db in
            try db.execute(sql: "ALTER TABLE pins ADD COLUMN overlay BLOB; ALTER TABLE shadow ADD COLUMN overlay BLOB")
        }
        return m
    }

    /// Runs `body` in one write transaction; everything it did is rolled back if it throws.
    public func write<T>(_ body: (inout SQLitePinsetStore) throws -> T) throws -> T {
        try pool.write { db in
            var store = SQLitePinsetStore(statements.statements(for: db))
            return try body(&store)
        }
    }

    /// Runs `body` on a consistent read snapshot (concurrent with writes).
    public func read<T>(_ body: (SQLitePinsetStore) throws -> T) throws -> T {
        try pool.read { db in try body(SQLitePinsetStore(statements.statements(for: db))) }
    }

    // MARK: Queries

    /// The pin for `cid`, if it is in the set.
    public func pin(_ cid: CID) throws -> Pin? { try read { try $0.elements(of: cid).first?.pin } }

    /// SQLite's `PRAGMA integrity_check`: "ok" or what is damaged.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    public func count() throws -> Int { try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pins") ?? 0 } }

    /// Every pin, in CID byte order, `batch` at a time: memory stays bounded for any set size.
    /// A row that does not decode is skipped and counted (``undecodableRows``), never fatal.
    public func forEachPin(batch: Int = 1_000, _ body: (Pin) throws -> Void) throws {
        var after = Data()
        while true {
            let (pins, last, full) = try page(after: after, rows: batch)
            for p in pins { try body(p) }
            guard full, let last else { return }
            after = last
        }
    }

    /// Up to `limit` pins in key order, starting after `after` (nil: from the first); fewer only
    /// at the end of the set. Rows that do not decode are skipped and counted.
    public func pins(after: CID?, limit: Int) throws -> [Pin] {
        var out: [Pin] = []
        var from = Data(after?.bytes ?? [])
        while out.count < limit {
            let (pins, last, full) = try page(after: from, rows: limit - out.count)
            out += pins
            guard full, let last else { break }
            from = last
        }
        return out
    }

    /// One read of up to `rows` rows after `after`: the pins that decode, the last key read,
    /// and whether `rows` rows were there (more may follow).
    private func page(after: Data, rows: Int) throws -> (pins: [Pin], last: Data?, full: Bool) {
        let read = try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM pins WHERE key > ? ORDER BY key LIMIT ?", arguments: [after, rows])
        }
        var pins: [Pin] = []
        pins.reserveCapacity(read.count)
        for row in read {
            let key: Data = row[0]
            let value: Data = row[1]
            do {
                pins.append(try SQLitePinsetStore.decodePin(key: key, value: value))
            } catch {
                undecodable.record(key: key, error: error)
            }
        }
        let last: Data? = read.last?[0]
        return (pins, last, read.count == rows)
    }

    /// Rows of the materialised state that did not decode (written by a PinMesh that did not
    /// check a pin's limits, or damaged): listings and exports skip them; `pinmesh state cleanup`
    /// removes them.
    public var undecodableRows: (count: Int, lastKey: CID?, lastError: String?) { undecodable.snapshot }

    /// The CIDs allocated to `peer` (an index lookup, never a scan of the set).
    public func keys(allocatedTo peer: PeerID) throws -> [CID] {
        try pool.read { db in
            try Data.fetchAll(
                db,
                sql: "SELECT p.key FROM allocations a JOIN pins p ON p.rid = a.rid WHERE a.pid = (SELECT pid FROM peers WHERE peer = ?) ORDER BY p.key",
                arguments: [Data(peer.bytes)])
                .map { try CID(bytes: [UInt8]($0)) }
        }
    }

    /// Every peer that holds at least one allocation (an index seek per known peer).
    public func peersWithAllocations() throws -> [PeerID] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT peer FROM peers p WHERE EXISTS (SELECT 1 FROM allocations a WHERE a.pid = p.pid)")
                .compactMap { try? PeerID(bytes: [UInt8]($0)) }
        }
    }

    /// How many CIDs are allocated to `peer` (an index range count).
    public func count(allocatedTo peer: PeerID) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM allocations WHERE pid = (SELECT pid FROM peers WHERE peer = ?)",
                arguments: [Data(peer.bytes)]) ?? 0
        }
    }

    /// Up to `limit` CIDs whose `expire_at` is set and at or before `unixMillis` (from the
    /// partial index on expire_at, oldest first).
    public func keys(expiredAt unixMillis: Int64, limit: Int = 1_000) throws -> [CID] {
        try pool.read { db in
            try Data.fetchAll(
                db, sql: "SELECT key FROM pins WHERE expire_at IS NOT NULL AND expire_at > 0 AND expire_at <= ? ORDER BY expire_at LIMIT ?",
                arguments: [unixMillis, limit])
                .map { try CID(bytes: [UInt8]($0)) }
        }
    }

    public func keys(named name: String) throws -> [CID] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT key FROM pins WHERE name = ? ORDER BY key", arguments: [name]).map { try CID(bytes: [UInt8]($0)) }
        }
    }

    public func keys(metadata key: String, equals value: String) throws -> [CID] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT key FROM metadata WHERE k = ? AND v = ? ORDER BY key", arguments: [key, value])
                .map { try CID(bytes: [UInt8]($0)) }
        }
    }

    public struct Info: Hashable, Sendable, Codable {
        public var heads: [CID]
        public var height: UInt64
        public var nodes: Int
        public var dagBytes: Int
        public var pins: Int
    }

    /// What `pinmesh state crdt info` shows.
    public func info() throws -> Info {
        try pool.read { db in
            let store = SQLitePinsetStore(statements.statements(for: db))
            let heads = try store.heads()
            var height: UInt64 = 0
            for h in heads { height = max(height, try store.links(of: h)?.height ?? 0) }
            let nodes = try Int.fetchOne(db, sql: "SELECT count(*) FROM nodes") ?? 0
            let bytes = try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(bytes)), 0) FROM nodes") ?? 0
            let pins = try Int.fetchOne(db, sql: "SELECT count(*) FROM pins") ?? 0
            return Info(heads: heads, height: height, nodes: nodes, dagBytes: bytes, pins: pins)
        }
    }

    // MARK: Snapshots

    /// Makes a snapshot of the state at the current heads, signed by `key`, and keeps it (and
    /// only it) for serving. `nil` when the pinset is empty. The state is read from one
    /// consistent read transaction, so writes may go on meanwhile.
    public func makeSnapshot(author: PeerID, key: Ed25519.PrivateKey, created: Timestamp) throws -> (cid: CID, root: PinsetSnapshot)? {
        let made: (cid: CID, root: PinsetSnapshot, bytes: [UInt8], blocks: [(cid: CID, bytes: [UInt8])])? = try pool.read { db in
            let store = SQLitePinsetStore(statements.statements(for: db))
            let heads = try store.heads().map { PinsetSnapshot.Head(cid: $0, height: try store.links(of: $0)?.height ?? 0) }
            guard !heads.isEmpty else { return nil }
            var shadows: [Data: [PinElement]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, id, priority, value, overlay FROM shadow") {
                let key: Data = row[0]
                shadows[key, default: []].append(try Self.element(row, key: key))
            }
            var builder = SnapshotBuilder()
            var blocks: [(cid: CID, bytes: [UInt8])] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT key, id, priority, value, overlay FROM pins ORDER BY key")
            while let row = try rows.next() {
                let keyData: Data = row[0]
                let key = try CID(bytes: [UInt8](keyData))
                var elements = [try Self.element(row, key: keyData)]
                if let more = shadows[keyData] { elements += more }
                elements.sort { $0.id.bytes.lexicographicallyPrecedes($1.id.bytes) }
                for e in elements { builder.add(key, e) }
                blocks += builder.takeBlocks()
            }
            var covered: [PinsetSnapshot.Head] = []
            for row in try Row.fetchAll(db, sql: "SELECT cid, height FROM nodes") {
                let c: Data = row[0]
                let h: Int64 = row[1]
                covered.append(PinsetSnapshot.Head(cid: try CID(bytes: [UInt8](c)), height: UInt64(h)))
            }
            let root = try builder.finish(heads: heads, covered: covered, author: author, key: key, created: created)
            blocks += builder.takeBlocks()
            return (root.cid, root.root, root.bytes, blocks)
        }
        guard let made else { return nil }
        try keepSnapshot(root: (made.cid, made.bytes), blocks: made.blocks, replacing: true)
        return (made.cid, made.root)
    }

    private static func element(_ row: Row, key: Data) throws -> PinElement {
        let id: Data = row[1]
        let priority: Int64 = row[2]
        let value: Data = row[3]
        let overlay: Data? = row[4]
        return PinElement(
            id: try CID(bytes: [UInt8](id)), priority: UInt64(priority), pin: try PinCodec.decode([UInt8](value), cid: try CID(bytes: [UInt8](key))),
            overlay: try overlay.map { try PinElement.Overlay(packed: [UInt8]($0)) })
    }

    /// Keeps a snapshot's blocks for serving; with `replacing`, the previous one's go.
    public func keepSnapshot(root: (cid: CID, bytes: [UInt8]), blocks: [(cid: CID, bytes: [UInt8])], replacing: Bool) throws {
        try pool.write { db in
            if replacing { try db.execute(sql: "DELETE FROM snapshot_blocks") }
            let st = try db.makeStatement(sql: "INSERT OR IGNORE INTO snapshot_blocks(cid, bytes) VALUES (?, ?)")
            for b in blocks { try st.execute(arguments: [Data(b.cid.bytes), Data(b.bytes)]) }
            try db.execute(
                sql: "INSERT INTO snapshot(id, root, bytes) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET root = excluded.root, bytes = excluded.bytes",
                arguments: [Data(root.cid.bytes), Data(root.bytes)])
        }
    }

    /// Adds blocks of a snapshot being loaded (kept for serving it on).
    public func addSnapshotBlocks(_ blocks: [(cid: CID, bytes: [UInt8])]) throws {
        try pool.write { db in
            let st = try db.makeStatement(sql: "INSERT OR IGNORE INTO snapshot_blocks(cid, bytes) VALUES (?, ?)")
            for b in blocks { try st.execute(arguments: [Data(b.cid.bytes), Data(b.bytes)]) }
        }
    }

    /// Empties the state, the DAG and the snapshot: before loading a snapshot into a peer
    /// whose earlier load was interrupted (no DAG yet, perhaps some pins).
    public func clearAll() throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM pins; DELETE FROM shadow; DELETE FROM allocations; DELETE FROM peers; DELETE FROM metadata; DELETE FROM nodes; DELETE FROM heads; DELETE FROM snapshot_blocks; DELETE FROM snapshot")
        }
    }

    /// Compaction: turns `nodes` (a snapshot's heads and their history) into stubs that keep
    /// only their CID and height, in one transaction. A stub is still known: the same node
    /// arriving again is ignored, never applied a second time.
    public func prune(_ nodes: [CID]) throws {
        try pool.write { db in
            let stub = try db.makeStatement(sql: "UPDATE nodes SET parents = zeroblob(0), bytes = zeroblob(0) WHERE cid = ?")
            for c in nodes { try stub.execute(arguments: [Data(c.bytes)]) }
        }
    }

    /// Records nodes known only from a snapshot, as stubs (CID and height).
    public func insertStubs(_ nodes: [PinsetSnapshot.Head]) throws {
        try pool.write { db in
            let st = try db.makeStatement(sql: "INSERT OR IGNORE INTO nodes(cid, height, parents, bytes) VALUES (?, ?, zeroblob(0), zeroblob(0))")
            for n in nodes { try st.execute(arguments: [Data(n.cid.bytes), Int64(n.height)]) }
        }
    }

    /// The snapshot this peer serves: its root CID and encoded root.
    public func latestSnapshot() throws -> (cid: CID, bytes: [UInt8])? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT root, bytes FROM snapshot WHERE id = 1") else { return nil }
            let root: Data = row[0]
            let bytes: Data = row[1]
            return (try CID(bytes: [UInt8](root)), [UInt8](bytes))
        }
    }

    /// The snapshot blocks `cids` in order, up to the first one not held, at most `budget`
    /// bytes (and at least one block).
    public func snapshotBlocks(_ cids: [CID], budget: Int) throws -> [[UInt8]] {
        try pool.read { db in
            var out: [[UInt8]] = []
            var size = 0
            let st = try db.cachedStatement(sql: "SELECT bytes FROM snapshot_blocks WHERE cid = ?")
            for c in cids {
                guard let b = try Data.fetchOne(st, arguments: [Data(c.bytes)]) else { break }
                guard out.isEmpty || size + b.count <= budget else { break }
                out.append([UInt8](b))
                size += b.count
            }
            return out
        }
    }

    /// Every applied node's links (the DAG index a peer keeps in memory to serve fetches).
    public func allLinks() throws -> [CID: NodeLinks] {
        try pool.read { db in
            var out: [CID: NodeLinks] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT cid, height, parents FROM nodes")
            while let row = try rows.next() {
                let cid: Data = row[0]
                let height: Int64 = row[1]
                let parents: Data = row[2]
                out[try CID(bytes: [UInt8](cid))] = NodeLinks(height: UInt64(height), parents: try SQLitePinsetStore.unpack([UInt8](parents)))
            }
            return out
        }
    }

    /// Closes the database (later calls fail) and releases the directory's lock.
    public func close() throws {
        statements.removeAll()
        try pool.close()
        lock.release()
    }
}

/// ``PinsetStore`` over one SQLite connection inside a transaction. The winner of each key
/// lives in `pins` (with its allocation, name and metadata index rows); other live elements,
/// rare (concurrent adds of one key), live in `shadow`.
///
/// The statements are prepared once per store and run through SQLite's C API with blobs
/// bound in place: this is the apply path's inner loop, thousands of rows a second.
public struct SQLitePinsetStore: PinsetStore {
    private let sql: RawStatements
    /// The last key `elements(of:)` looked up and its winner, so replacing it deletes exactly
    /// its index rows.
    private final class Lookup {
        var key: CID?
        var winner: Pin?
        var rid: Int64 = 0
    }
    private let lastLookup = Lookup()

    init(_ statements: RawStatements) { sql = statements }

    static func decodePin(key: Data, value: Data) throws -> Pin {
        try PinCodec.decode([UInt8](value), cid: try CID(bytes: [UInt8](key)))
    }

    public func elements(of key: CID) throws -> [PinElement] {
        let k = key.bytes
        var out: [PinElement] = []
        var rid: Int64 = 0
        try sql.run(.selectPin, [.blob(k)]) { row in
            out.append(
                PinElement(
                    id: try CID(bytes: row.blob(0)), priority: UInt64(row.int(1)), pin: try PinCodec.decode(row.blob(2), cid: key),
                    overlay: row.isNull(4) ? nil : try PinElement.Overlay(packed: row.blob(4))))
            rid = row.int(3)
        }
        lastLookup.key = key
        lastLookup.rid = rid
        lastLookup.winner = out.first?.pin
        guard !out.isEmpty else { return out }
        try sql.run(.selectShadow, [.blob(k)]) { row in
            out.append(
                PinElement(
                    id: try CID(bytes: row.blob(0)), priority: UInt64(row.int(1)), pin: try PinCodec.decode(row.blob(2), cid: key),
                    overlay: row.isNull(3) ? nil : try PinElement.Overlay(packed: row.blob(3))))
        }
        out[1...].sort { $0.wins(over: $1) }
        return out
    }

    public mutating func setElements(_ elements: [PinElement], of key: CID) throws {
        let k = key.bytes
        // The previous winner's index rows: from the lookup the rules just made, else read.
        let previous = lastLookup.key == key ? lastLookup.winner : try self.elements(of: key).first?.pin
        if let p = previous {
            let rid = lastLookup.rid
            try sql.run(.deletePin, [.blob(k)])
            try sql.run(.deleteShadow, [.blob(k)])
            for a in Set(p.allocations) { try sql.run(.deleteAllocation, [.int(try sql.peerNumber(a.bytes)), .int(rid)]) }
            for (mk, mv) in p.options.metadata { try sql.run(.deleteMetadata, [.text(mk), .text(mv), .blob(k)]) }
        }
        lastLookup.key = key
        lastLookup.winner = elements.first?.pin
        guard let winner = elements.first else { return }
        guard let rid = try insertWinner(winner, key: k) else {
            throw PinsetError(.storage, "pinset key \(key) is still present after its removal: the database is inconsistent")
        }
        lastLookup.rid = rid
        for e in elements.dropFirst() {
            try sql.run(.insertShadow, [
                .blob(k), .blob(e.id.bytes), .int(Int64(e.priority)), .blob(PinCodec.encode(e.pin)), e.overlay.map { .blob($0.packed) } ?? .null,
            ])
        }
    }

    public mutating func insertIfAbsent(_ element: PinElement, of key: CID) throws -> Bool {
        guard let rid = try insertWinner(element, key: key.bytes) else { return false }
        lastLookup.key = key
        lastLookup.winner = element.pin
        lastLookup.rid = rid
        return true
    }

    /// Inserts the winner row and its index rows unless the key has a row already; returns
    /// the row's id, or nil when the key had one.
    private func insertWinner(_ winner: PinElement, key k: [UInt8]) throws -> Int64? {
        let pin = winner.pin
        try sql.run(.insertPin, [
            .blob(k), .blob(winner.id.bytes), .int(Int64(winner.priority)), .blob(PinCodec.encode(pin)),
            pin.options.name.isEmpty ? .null : .text(pin.options.name), .int(Int64(pin.type.rawValue)),
            pin.options.expireAt.map { .int($0.unixMillis) } ?? .null, winner.overlay.map { .blob($0.packed) } ?? .null,
        ])
        guard sql.changes == 1 else { return nil }
        let rid = sql.lastRowID
        for a in pin.allocations { try sql.run(.insertAllocation, [.int(try sql.peerNumber(a.bytes)), .int(rid)]) }
        for (mk, mv) in pin.options.metadata { try sql.run(.insertMetadata, [.text(mk), .text(mv), .blob(k)]) }
        return rid
    }

    public func links(of node: CID) throws -> NodeLinks? {
        var out: NodeLinks?
        try sql.run(.selectLinks, [.blob(node.bytes)]) { row in
            out = NodeLinks(height: UInt64(row.int(0)), parents: try Self.unpack(row.blob(1)))
        }
        return out
    }

    public func nodeBytes(_ node: CID) throws -> [UInt8]? {
        var out: [UInt8]?
        try sql.run(.selectNodeBytes, [.blob(node.bytes)]) { row in out = row.blob(0) }
        return out
    }

    public mutating func insertNode(_ node: CID, links: NodeLinks, bytes: [UInt8]) throws {
        try sql.run(.insertNode, [.blob(node.bytes), .int(Int64(links.height)), .blob(Self.pack(links.parents)), .blob(bytes)])
    }

    public func heads() throws -> [CID] {
        var out: [CID] = []
        try sql.run(.selectHeads, []) { row in out.append(try CID(bytes: row.blob(0))) }
        return out
    }

    public mutating func updateHeads(removing: [CID], adding: CID) throws {
        for r in removing { try sql.run(.deleteHead, [.blob(r.bytes)]) }
        try sql.run(.insertHead, [.blob(adding.bytes)])
    }

    /// Parents packed as (1-byte length, CID bytes)*.
    static func pack(_ cids: [CID]) -> [UInt8] {
        var out: [UInt8] = []
        for c in cids {
            let b = c.bytes
            out.append(UInt8(b.count))
            out += b
        }
        return out
    }

    static func unpack(_ bytes: [UInt8]) throws -> [CID] {
        var out: [CID] = []
        var i = 0
        while i < bytes.count {
            let n = Int(bytes[i])
            guard i + 1 + n <= bytes.count else {
                throw PinsetError(.storage, "stored parents of a pinset node are truncated: the database is damaged")
            }
            out.append(try CID(bytes: Array(bytes[i + 1..<i + 1 + n])))
            i += 1 + n
        }
        return out
    }
}

/// One `RawStatements` per SQLite connection, kept for the connection's life. GRDB gives a
/// connection to one transaction at a time, so a connection's statements are never used by
/// two at once. What a transaction may roll back (the peer-number memo) is cleared per use.
final class StatementCache: @unchecked Sendable {
    private var byConnection: [OpaquePointer: RawStatements] = [:]
    private let lock = NSLock()

    func statements(for db: Database) -> RawStatements {
        guard let connection = db.sqliteConnection else { return RawStatements(db) }
        let s = lock.withLock {
            if let s = byConnection[connection] { return s }
            let s = RawStatements(db)
            byConnection[connection] = s
            return s
        }
        s.forgetTransactionState()
        return s
    }

    /// Finalizes every statement (before the connections close).
    func removeAll() { lock.withLock { byConnection = [:] } }
}

/// What ``PinsetDatabase`` skipped because it did not decode.
final class UndecodableRows: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var lastKey: CID?
    private var lastError: String?

    func record(key: Data, error: any Error) {
        lock.withLock {
            count += 1
            lastKey = try? CID(bytes: [UInt8](key))
            lastError = "\(error)"
        }
    }

    var snapshot: (count: Int, lastKey: CID?, lastError: String?) { lock.withLock { (count, lastKey, lastError) } }
}
