import CodedError
import GRDB
import GRDBSQLite
import Pinset

/// The pinset store's statements, prepared once on a GRDB connection and run through
/// SQLite's C API. GRDB's general binding costs several microseconds a row; this costs
/// SQLite's own.
final class RawStatements {
    enum Query: Int, CaseIterable {
        case selectPin, selectShadow, deletePin, deleteShadow, deleteAllocation, deleteMetadata
        case insertPin, insertShadow, insertAllocation, insertMetadata
        case selectLinks, selectNodeBytes, insertNode, selectHeads, deleteHead, insertHead, selectPeer, insertPeer

        var sql: String {
            switch self {
            case .selectPin: "SELECT id, priority, value, rid, overlay FROM pins WHERE key = ?"
            case .selectShadow: "SELECT id, priority, value, overlay FROM shadow WHERE key = ?"
            case .deletePin: "DELETE FROM pins WHERE key = ?"
            case .deleteShadow: "DELETE FROM shadow WHERE key = ?"
            case .deleteAllocation: "DELETE FROM allocations WHERE pid = ? AND rid = ?"
            case .deleteMetadata: "DELETE FROM metadata WHERE k = ? AND v = ? AND key = ?"
            case .insertPin:
                "INSERT INTO pins(key, id, priority, value, name, type, expire_at, overlay) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING"
            case .insertShadow: "INSERT INTO shadow(key, id, priority, value, overlay) VALUES (?, ?, ?, ?, ?)"
            case .insertAllocation: "INSERT OR IGNORE INTO allocations(pid, rid) VALUES (?, ?)"
            case .insertMetadata: "INSERT OR IGNORE INTO metadata(k, v, key) VALUES (?, ?, ?)"
            case .selectLinks: "SELECT height, parents FROM nodes WHERE cid = ?"
            case .selectNodeBytes: "SELECT bytes FROM nodes WHERE cid = ?"
            case .insertNode: "INSERT INTO nodes(cid, height, parents, bytes) VALUES (?, ?, ?, ?)"
            case .selectHeads: "SELECT cid FROM heads ORDER BY cid"
            case .deleteHead: "DELETE FROM heads WHERE cid = ?"
            case .insertHead: "INSERT OR IGNORE INTO heads(cid) VALUES (?)"
            case .selectPeer: "SELECT pid FROM peers WHERE peer = ?"
            case .insertPeer: "INSERT INTO peers(peer) VALUES (?)"
            }
        }
    }

    enum Value {
        case blob([UInt8]), int(Int64), text(String), null
    }

    struct Row {
        let statement: OpaquePointer
        func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
        func blob(_ column: Int32) -> [UInt8] {
            let n = Int(sqlite3_column_bytes(statement, column))
            guard n > 0, let p = sqlite3_column_blob(statement, column) else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: p, count: n))
        }
    }

    private let connection: OpaquePointer?
    private var statements: [OpaquePointer?]

    init(_ db: Database) {
        connection = db.sqliteConnection
        statements = Array(repeating: nil, count: Query.allCases.count)
    }

    deinit { for s in statements where s != nil { sqlite3_finalize(s) } }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(connection)) }
    /// The rowid of the last inserted row.
    var lastRowID: Int64 { sqlite3_last_insert_rowid(connection) }

    /// Allocation rows name peers by a small number (`peers` table), so they are short and,
    /// with the pin's rowid, appended in order rather than scattered.
    private var peerNumbers: [[UInt8]: Int64] = [:]

    /// Forgets what a rolled-back transaction may have made untrue (a peer number inserted in it).
    func forgetTransactionState() { peerNumbers = [:] }

    func peerNumber(_ peer: [UInt8]) throws -> Int64 {
        if let n = peerNumbers[peer] { return n }
        var found: Int64?
        try run(.selectPeer, [.blob(peer)]) { row in found = row.int(0) }
        let n: Int64
        if let found { n = found } else {
            try run(.insertPeer, [.blob(peer)])
            n = lastRowID
        }
        peerNumbers[peer] = n
        return n
    }

    private func error(_ what: String) -> PinsetError {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "no connection"
        return PinsetError(.storage, "pinset database: \(what) failed: \(message)")
    }

    private func statement(_ q: Query) throws(PinsetError) -> OpaquePointer {
        if let s = statements[q.rawValue] { return s }
        var s: OpaquePointer?
        guard sqlite3_prepare_v3(connection, q.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil) == SQLITE_OK, let s else {
            throw error("preparing \(q)")
        }
        statements[q.rawValue] = s
        return s
    }

    /// Runs `q` with `values`, calling `row` for each result row.
    func run(_ q: Query, _ values: [Value], row: (Row) throws -> Void = { _ in }) throws {
        let s = try statement(q)
        defer {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch v {
            case .blob(let b):
                rc = b.isEmpty
                    ? sqlite3_bind_zeroblob(s, index, 0)
                    : b.withUnsafeBytes { sqlite3_bind_blob(s, index, $0.baseAddress, Int32($0.count), transient) }
            case .int(let n): rc = sqlite3_bind_int64(s, index, n)
            case .text(let t): rc = sqlite3_bind_text(s, index, t, -1, transient)
            case .null: rc = sqlite3_bind_null(s, index)
            }
            guard rc == SQLITE_OK else { throw error("binding \(q)") }
        }
        while true {
            switch sqlite3_step(s) {
            case SQLITE_ROW: try row(Row(statement: s))
            case SQLITE_DONE: return
            default: throw error("running \(q)")
            }
        }
    }
}
