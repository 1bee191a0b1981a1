import Foundation
import GRDB
public import Multiformats

/// How a CID is pinned in the embedded IPFS node.
public enum IPFSPinMode: Hashable, Sendable {
    /// The block alone.
    case direct
    /// The block and everything below it, to `maxDepth` levels (nil: all of it; 0 is the
    /// block alone, 1 its children too, ...).
    case recursive(maxDepth: Int?)

    /// kubo's name of the mode: `direct` or `recursive` (a depth-limited pin is `recursive`
    /// with its depth beside it).
    public var typeName: String {
        switch self {
        case .direct: "direct"
        case .recursive: "recursive"
        }
    }

    /// Whether a pin in `self` keeps at least what a pin in `other` keeps.
    public func covers(_ other: IPFSPinMode) -> Bool {
        switch (self, other) {
        case (.recursive(nil), _): true
        case (.recursive(let a?), .recursive(let b?)): a >= b
        case (.recursive, .direct): true
        case (.direct, .direct): true
        default: false
        }
    }
}

/// One pin row.
public struct IPFSPin: Hashable, Sendable {
    public let cid: CID
    public let mode: IPFSPinMode
    public let name: String

    public init(cid: CID, mode: IPFSPinMode, name: String = "") {
        self.cid = cid
        self.mode = mode
        self.name = name
    }
}

/// The embedded node's pins in SQLite (GRDB, WAL, `synchronous=FULL`): a pin is durable once
/// the call that made it returns. Indirect pins are not stored; they are what the recursive
/// pins reach.
public final class IPFSPinStore: Sendable {
    public let path: String
    private let pool: DatabasePool

    public init(path: String) throws(RepoError) {
        self.path = path
        var config = Configuration()
        config.label = "ipfs-pins"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA cache_size = -16384")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            var m = DatabaseMigrator()
            m.registerMigration("v1") { db in
                // depth: NULL for direct pins, -1 for unlimited recursive pins, N >= 0 for a
                // recursive pin limited to N levels.
                try db.execute(sql: "CREATE TABLE pins(cid BLOB PRIMARY KEY, depth INTEGER, name TEXT NOT NULL DEFAULT '') WITHOUT ROWID")
            }
            try m.migrate(pool)
        } catch {
            throw RepoError(.io, "cannot open the pin database \(path): \(error). Check the path and its permissions; the file is left as it is")
        }
    }

    private static func depthColumn(_ mode: IPFSPinMode) -> Int? {
        switch mode {
        case .direct: nil
        case .recursive(let d): d ?? -1
        }
    }

    private static func mode(_ depth: Int?) -> IPFSPinMode {
        guard let depth else { return .direct }
        return .recursive(maxDepth: depth < 0 ? nil : depth)
    }

    private static func pin(_ row: Row) throws -> IPFSPin {
        let bytes: [UInt8] = [UInt8](row[0] as Data)
        return IPFSPin(cid: try CID(bytes: bytes), mode: mode(row[1]), name: row[2])
    }

    private func io<T>(_ what: String, _ body: () throws -> T) throws(RepoError) -> T {
        do {
            return try body()
        } catch let e as RepoError {
            throw e
        } catch {
            throw RepoError(.io, "pin database \(path): \(what) failed: \(error)")
        }
    }

    /// The pin of `cid`, if any.
    public func get(_ cid: CID) throws(RepoError) -> IPFSPin? {
        try io("read") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT cid, depth, name FROM pins WHERE cid = ?", arguments: [Data(cid.bytes)]).map(Self.pin)
            }
        }
    }

    /// Records pins in one transaction, applying kubo's rules: a recursive pin replaces a
    /// direct one; a direct pin of a recursively pinned CID is refused; a deeper recursive pin
    /// replaces a shallower one (a shallower one leaves the deeper as it is).
    public func add(_ pins: [IPFSPin]) throws(RepoError) {
        try io("pin") {
            try pool.write { db in
                for p in pins {
                    let key = Data(p.cid.bytes)
                    if let existing = try Row.fetchOne(db, sql: "SELECT depth FROM pins WHERE cid = ?", arguments: [key]) {
                        let old = Self.mode(existing[0])
                        if case .direct = p.mode, case .recursive = old {
                            throw RepoError(.pinConflict, "pin: \(p.cid) already pinned recursively")
                        }
                        if old.covers(p.mode) && old != .direct {
                            if !p.name.isEmpty { try db.execute(sql: "UPDATE pins SET name = ? WHERE cid = ?", arguments: [p.name, key]) }
                            continue
                        }
                    }
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO pins(cid, depth, name) VALUES (?, ?, ?)",
                        arguments: [key, Self.depthColumn(p.mode), p.name])
                }
            }
        }
    }

    /// Removes the pin of `cid`; with `recursive: false`, a recursive pin is refused (kubo).
    public func remove(_ cid: CID, recursive: Bool) throws(RepoError) {
        try io("unpin") {
            try pool.write { db in
                let key = Data(cid.bytes)
                guard let row = try Row.fetchOne(db, sql: "SELECT depth FROM pins WHERE cid = ?", arguments: [key]) else {
                    throw RepoError(.notPinned, "not pinned or pinned indirectly")
                }
                if case .recursive = Self.mode(row[0]), !recursive {
                    throw RepoError(.pinConflict, "\(cid) is pinned recursively")
                }
                try db.execute(sql: "DELETE FROM pins WHERE cid = ?", arguments: [key])
            }
        }
    }

    /// Replaces `from` by `to` in one transaction (`pin/update`); `to` takes `from`'s mode.
    public func update(from: CID, to: CID, unpin: Bool) throws(RepoError) {
        try io("update") {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT depth, name FROM pins WHERE cid = ?", arguments: [Data(from.bytes)]),
                      case .recursive = Self.mode(row[0]) else {
                    throw RepoError(.notPinned, "'from' cid was not recursively pinned already")
                }
                let depth: Int? = row[0]
                let name: String = row[1]
                try db.execute(
                    sql: "INSERT OR REPLACE INTO pins(cid, depth, name) VALUES (?, ?, ?)", arguments: [Data(to.bytes), depth, name])
                if unpin && from != to { try db.execute(sql: "DELETE FROM pins WHERE cid = ?", arguments: [Data(from.bytes)]) }
            }
        }
    }

    /// The number of pins.
    public func count() throws(RepoError) -> Int {
        try io("count") { try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM pins") ?? 0 } }
    }

    /// Up to `limit` pins after `after` (by CID bytes), recursive ones only when `recursiveOnly`:
    /// a page of a streamed listing, so memory never grows with the pin count.
    public func page(after: CID?, limit: Int, filter: PinFilter = .all) throws(RepoError) -> [IPFSPin] {
        let start = Data(after?.bytes ?? [])
        let cond: String
        switch filter {
        case .all: cond = ""
        case .recursive: cond = " AND depth IS NOT NULL"
        case .direct: cond = " AND depth IS NULL"
        }
        return try io("list") {
            try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT cid, depth, name FROM pins WHERE cid > ?\(cond) ORDER BY cid LIMIT ?", arguments: [start, limit]
                ).map(Self.pin)
            }
        }
    }

    public enum PinFilter: Sendable { case all, recursive, direct }

    /// Calls `body` with every pin, a page at a time.
    public func forEach(_ filter: PinFilter = .all, pageSize: Int = 10_000, _ body: (IPFSPin) throws -> Void) throws {
        var after: CID?
        while true {
            let page = try page(after: after, limit: pageSize, filter: filter)
            for p in page { try body(p) }
            guard page.count == pageSize, let last = page.last else { return }
            after = last.cid
        }
    }
}
