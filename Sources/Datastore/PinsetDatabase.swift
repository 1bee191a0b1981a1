public import ClusterModel
import Foundation
import GRDB
public import Multiformats
public import Pinset
import UnixFS

/// The pinset's durable storage: DAG nodes, heads and the materialised state in one SQLite
/// database (WAL, `synchronous=FULL`), with indexes by allocation peer, name and metadata.
///
/// Every node is applied inside one transaction together with the state changes it makes
/// (``write(_:)``), so a crash leaves either all of it or none of it, and an acknowledged
/// write survives `kill -9` and power loss.
public final class PinsetDatabase: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws(PinsetError) {
        self.path = path
        var config = Configuration()
        config.label = "pinset"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try PinsetDatabase.migrator.migrate(pool)
        } catch {
            throw PinsetError(
                .storage, "cannot open the pinset database \(path): \(error). Check the path and its permissions; the file is left as it is")
        }
    }

    private static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE nodes(cid BLOB PRIMARY KEY, height INTEGER NOT NULL, parents BLOB NOT NULL, bytes BLOB NOT NULL) WITHOUT ROWID;
                    CREATE TABLE heads(cid BLOB PRIMARY KEY) WITHOUT ROWID;
                    CREATE TABLE pins(key BLOB PRIMARY KEY, id BLOB NOT NULL, priority INTEGER NOT NULL, value BLOB NOT NULL,
                                      name TEXT, type INTEGER NOT NULL, expire_at INTEGER) WITHOUT ROWID;
                    CREATE INDEX pins_name ON pins(name) WHERE name IS NOT NULL;
                    CREATE INDEX pins_expire ON pins(expire_at) WHERE expire_at IS NOT NULL;
                    CREATE TABLE shadow(key BLOB NOT NULL, id BLOB NOT NULL, priority INTEGER NOT NULL, value BLOB NOT NULL,
                                        PRIMARY KEY(key, id)) WITHOUT ROWID;
                    CREATE TABLE allocations(peer BLOB NOT NULL, key BLOB NOT NULL, PRIMARY KEY(peer, key)) WITHOUT ROWID;
                    CREATE TABLE metadata(k TEXT NOT NULL, v TEXT NOT NULL, key BLOB NOT NULL, PRIMARY KEY(k, v, key)) WITHOUT ROWID;
                    """)
        }
        return m
    }

    /// Runs `body` in one write transaction; everything it did is rolled back if it throws.
    public func write<T>(_ body: (inout SQLitePinsetStore) throws -> T) throws -> T {
        try pool.write { db in
            var store = SQLitePinsetStore(db)
            return try body(&store)
        }
    }

    /// Runs `body` on a consistent read snapshot (concurrent with writes).
    public func read<T>(_ body: (SQLitePinsetStore) throws -> T) throws -> T {
        try pool.read { db in try body(SQLitePinsetStore(db)) }
    }

    // MARK: Queries

    /// The pin for `cid`, if it is in the set.
    public func pin(_ cid: CID) throws -> Pin? { try read { try $0.elements(of: cid).first?.pin } }

    public func count() throws -> Int { try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pins") ?? 0 } }

    /// Every pin, in CID byte order, `batch` at a time: memory stays bounded for any set size.
    public func forEachPin(batch: Int = 1_000, _ body: (Pin) throws -> Void) throws {
        var after = Data()
        while true {
            let rows = try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT key, value FROM pins WHERE key > ? ORDER BY key LIMIT ?", arguments: [after, batch])
            }
            for row in rows {
                let key: Data = row[0]
                let value: Data = row[1]
                try body(try SQLitePinsetStore.decodePin(key: key, value: value))
            }
            guard rows.count == batch, let last = rows.last else { return }
            after = last[0]
        }
    }

    /// The CIDs allocated to `peer` (an index lookup, never a scan of the set).
    public func keys(allocatedTo peer: PeerID) throws -> [CID] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT key FROM allocations WHERE peer = ? ORDER BY key", arguments: [Data(peer.bytes)])
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
            let store = SQLitePinsetStore(db)
            let heads = try store.heads()
            var height: UInt64 = 0
            for h in heads { height = max(height, try store.links(of: h)?.height ?? 0) }
            let nodes = try Int.fetchOne(db, sql: "SELECT count(*) FROM nodes") ?? 0
            let bytes = try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(bytes)), 0) FROM nodes") ?? 0
            let pins = try Int.fetchOne(db, sql: "SELECT count(*) FROM pins") ?? 0
            return Info(heads: heads, height: height, nodes: nodes, dagBytes: bytes, pins: pins)
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

    /// Closes the database (later calls fail).
    public func close() throws { try pool.close() }
}

/// ``PinsetStore`` over one SQLite connection inside a transaction. The winner of each key
/// lives in `pins` (with its allocation, name and metadata index rows); other live elements,
/// rare (concurrent adds of one key), live in `shadow`.
public struct SQLitePinsetStore: PinsetStore {
    let db: Database
    /// The last key `elements(of:)` looked up and its winner's index rows, so replacing it
    /// deletes exactly those.
    private final class Lookup {
        var key: CID?
        var winner: Pin?
    }
    private let lastLookup = Lookup()

    init(_ db: Database) { self.db = db }

    static func decodePin(key: Data, value: Data) throws -> Pin {
        let cid = try CID(bytes: [UInt8](key))
        return try PinCodec.decode(try DagCBOR(decoding: [UInt8](value)), cid: cid)
    }

    public func elements(of key: CID) throws -> [PinElement] {
        let k = Data(key.bytes)
        guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT id, priority, value FROM pins WHERE key = ?"), arguments: [k])
        else {
            lastLookup.key = key
            lastLookup.winner = nil
            return []
        }
        var out = [try element(row, key: k)]
        let shadows = try Row.fetchAll(
            try db.cachedStatement(sql: "SELECT id, priority, value FROM shadow WHERE key = ?"), arguments: [k])
        for r in shadows { out.append(try element(r, key: k)) }
        out[1...].sort { $0.wins(over: $1) }
        lastLookup.key = key
        lastLookup.winner = out[0].pin
        return out
    }

    private func element(_ row: Row, key: Data) throws -> PinElement {
        let id: Data = row[0]
        let priority: Int64 = row[1]
        let value: Data = row[2]
        return PinElement(id: try CID(bytes: [UInt8](id)), priority: UInt64(priority), pin: try Self.decodePin(key: key, value: value))
    }

    public mutating func setElements(_ elements: [PinElement], of key: CID) throws {
        let k = Data(key.bytes)
        // The previous winner's index rows: from the lookup the rules just made, else read.
        let previous: Pin?
        if lastLookup.key == key {
            previous = lastLookup.winner
        } else {
            previous = try self.elements(of: key).first?.pin
        }
        if let p = previous {
            try db.cachedStatement(sql: "DELETE FROM pins WHERE key = ?").execute(arguments: [k])
            try db.cachedStatement(sql: "DELETE FROM shadow WHERE key = ?").execute(arguments: [k])
            for a in p.allocations {
                try db.cachedStatement(sql: "DELETE FROM allocations WHERE peer = ? AND key = ?").execute(arguments: [Data(a.bytes), k])
            }
            for (mk, mv) in p.options.metadata {
                try db.cachedStatement(sql: "DELETE FROM metadata WHERE k = ? AND v = ? AND key = ?").execute(arguments: [mk, mv, k])
            }
        }
        lastLookup.key = key
        lastLookup.winner = elements.first?.pin
        guard let winner = elements.first else { return }
        let pin = winner.pin
        try db.cachedStatement(sql: "INSERT INTO pins(key, id, priority, value, name, type, expire_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [
                k, Data(winner.id.bytes), Int64(winner.priority), Data(PinCodec.encode(pin).encoded()),
                pin.options.name.isEmpty ? nil : pin.options.name, pin.type.rawValue, pin.options.expireAt?.unixMillis,
            ])
        for e in elements.dropFirst() {
            try db.cachedStatement(sql: "INSERT INTO shadow(key, id, priority, value) VALUES (?, ?, ?, ?)")
                .execute(arguments: [k, Data(e.id.bytes), Int64(e.priority), Data(PinCodec.encode(e.pin).encoded())])
        }
        for a in Set(pin.allocations) {
            try db.cachedStatement(sql: "INSERT INTO allocations(peer, key) VALUES (?, ?)").execute(arguments: [Data(a.bytes), k])
        }
        for (mk, mv) in pin.options.metadata {
            try db.cachedStatement(sql: "INSERT INTO metadata(k, v, key) VALUES (?, ?, ?)").execute(arguments: [mk, mv, k])
        }
    }

    public func links(of node: CID) throws -> NodeLinks? {
        guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT height, parents FROM nodes WHERE cid = ?"), arguments: [Data(node.bytes)])
        else { return nil }
        let height: Int64 = row[0]
        let packed: Data = row[1]
        return NodeLinks(height: UInt64(height), parents: try Self.unpack([UInt8](packed)))
    }

    public func nodeBytes(_ node: CID) throws -> [UInt8]? {
        try Data.fetchOne(try db.cachedStatement(sql: "SELECT bytes FROM nodes WHERE cid = ?"), arguments: [Data(node.bytes)]).map { [UInt8]($0) }
    }

    public mutating func insertNode(_ node: CID, links: NodeLinks, bytes: [UInt8]) throws {
        try db.cachedStatement(sql: "INSERT INTO nodes(cid, height, parents, bytes) VALUES (?, ?, ?, ?)")
            .execute(arguments: [Data(node.bytes), Int64(links.height), Data(Self.pack(links.parents)), Data(bytes)])
    }

    public func heads() throws -> [CID] {
        try Data.fetchAll(try db.cachedStatement(sql: "SELECT cid FROM heads ORDER BY cid")).map { try CID(bytes: [UInt8]($0)) }
    }

    public mutating func updateHeads(removing: [CID], adding: CID) throws {
        for r in removing { try db.cachedStatement(sql: "DELETE FROM heads WHERE cid = ?").execute(arguments: [Data(r.bytes)]) }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO heads(cid) VALUES (?)").execute(arguments: [Data(adding.bytes)])
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
