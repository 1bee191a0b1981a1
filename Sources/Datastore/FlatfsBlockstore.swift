public import Foundation
public import Multiformats

#if canImport(Glibc)
import Glibc
#endif

/// Blocks as files in a sharded directory, kubo's flatfs layout (`next-to-last/2`): a block's
/// key is the base32 (RFC 4648, upper case, no padding) of its multihash; its file is
/// `blocks/<two characters before the key's last>/<key>.data`.
///
/// - A block is written to a temporary file in its shard directory and renamed into place, so
///   no process crash (`kill -9`) ever leaves a partial block visible. ``sync()`` is the
///   durability barrier: it flushes every block written so far to the disk (`syncfs`); callers
///   run it before they acknowledge (a `block/put`, an `add`, a pin).
/// - Every block is checked against its CID before it is written and again when it is read: a
///   corrupt file is reported with its path and never served.
/// - Blocks are keyed by multihash, as in kubo: the same bytes under two codecs are one file.
public final class FlatfsBlockstore: @unchecked Sendable {
    /// The largest block accepted (kubo refuses over 1 MiB unless `allow-big-block`; no block
    /// over this hard limit is ever stored).
    public static let hardBlockLimit = 4 << 20
    /// kubo's soft block limit: bigger blocks need `allow-big-block`.
    public static let softBlockLimit = 1 << 20
    public static let shardingSpec = "/repo/flatfs/shard/v1/next-to-last/2\n"

    public let directory: String
    /// The most bytes the store may hold (0: no limit).
    public let storageMax: UInt64
    private let lock = NSLock()
    private var usedBytes: UInt64 = 0
    private var objectCount: Int = 0
    private let syncFD: Int32

    /// Opens (creating if needed) the block directory, removes temporary files a crash left,
    /// and counts the blocks and bytes stored.
    public init(directory: String, storageMax: UInt64 = 0) throws(RepoError) {
        self.directory = directory
        self.storageMax = storageMax
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RepoError(.io, "cannot create the block directory \(directory): \(error). Check the path and its permissions")
        }
        let shardingPath = directory + "/SHARDING"
        if let existing = try? String(contentsOfFile: shardingPath, encoding: .utf8) {
            guard existing == Self.shardingSpec else {
                throw RepoError(.io, "\(shardingPath) says \(existing.debugDescription); PinMesh reads only \(Self.shardingSpec.debugDescription). Use a repository made by `pinmesh ipfs init`")
            }
        } else {
            guard fm.createFile(atPath: shardingPath, contents: Data(Self.shardingSpec.utf8)) else {
                throw RepoError(.io, "cannot write \(shardingPath). Check the directory's permissions")
            }
        }
        syncFD = open(directory, O_RDONLY | O_DIRECTORY)
        guard syncFD >= 0 else { throw RepoError(.io, "cannot open \(directory): \(String(cString: strerror(errno)))") }
        var bytes: UInt64 = 0
        var count = 0
        for shard in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] where shard.count == 2 {
            let shardPath = directory + "/" + shard
            for name in (try? fm.contentsOfDirectory(atPath: shardPath)) ?? [] {
                let path = shardPath + "/" + name
                if name.hasPrefix(".temp-") {
                    unlink(path)  // a write a crash interrupted: never renamed, never visible
                    continue
                }
                guard name.hasSuffix(".data") else { continue }
                var st = stat()
                if stat(path, &st) == 0 {
                    bytes += UInt64(st.st_size)
                    count += 1
                }
            }
        }
        usedBytes = bytes
        objectCount = count
    }

    deinit { close(syncFD) }

    /// The flatfs key of a multihash.
    public static func key(_ multihash: Multihash) -> String {
        Multibase.base32Upper.encodeWithoutPrefix(multihash.bytes)
    }

    /// The path of a multihash's file.
    public func path(_ multihash: Multihash) -> String {
        let key = Self.key(multihash)
        let end = key.index(before: key.endIndex)
        let shard = key[key.index(end, offsetBy: -2)..<end]
        return "\(directory)/\(shard)/\(key).data"
    }

    /// Bytes and blocks stored now.
    public var usage: (bytes: UInt64, objects: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (usedBytes, objectCount)
    }

    /// Whether the block is stored (identity CIDs always are).
    public func has(_ cid: CID) -> Bool {
        if cid.multihash.code == .identity { return true }
        return access(path(cid.multihash), F_OK) == 0
    }

    /// The stored size of a block, or nil.
    public func size(_ cid: CID) -> Int? {
        if cid.multihash.code == .identity { return cid.multihash.digest.count }
        var st = stat()
        guard stat(path(cid.multihash), &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// Checks `bytes` against `cid` and stores them (nothing is written when the block is
    /// already there). Returns whether a new file was written.
    /// - Parameter hashed: the caller computed `cid` from these very bytes (an import), so
    ///   hashing them again would only repeat it; every other caller leaves it false.
    @discardableResult
    public func put(_ cid: CID, _ bytes: [UInt8], allowBig: Bool = false, hashed: Bool = false) throws(RepoError) -> Bool {
        if hashed {
            try Self.checkSize(bytes.count, allowBig: allowBig)
        } else {
            try Self.check(cid, bytes, allowBig: allowBig)
        }
        if cid.multihash.code == .identity { return false }
        let target = path(cid.multihash)
        if access(target, F_OK) == 0 { return false }
        lock.lock()
        if storageMax > 0 && usedBytes + UInt64(bytes.count) > storageMax {
            let used = usedBytes
            lock.unlock()
            throw RepoError(
                .storageFull,
                "the repository is full: \(used) of StorageMax \(storageMax) bytes used, a block of \(bytes.count) bytes does not fit. Free space with `repo/gc` or raise Datastore.StorageMax")
        }
        usedBytes += UInt64(bytes.count)  // reserved now, so concurrent writers cannot overshoot
        lock.unlock()
        do {
            let wrote = try writeFile(target, bytes)
            lock.lock()
            if wrote { objectCount += 1 } else { usedBytes -= UInt64(bytes.count) }
            lock.unlock()
            return wrote
        } catch {
            lock.lock()
            usedBytes -= UInt64(bytes.count)
            lock.unlock()
            throw error
        }
    }

    /// Checks a block against its CID and the size limits without storing it.
    public static func check(_ cid: CID, _ bytes: [UInt8], allowBig: Bool) throws(RepoError) {
        try checkSize(bytes.count, allowBig: allowBig)
        switch cid.multihash.verifies(bytes) {
        case true: break
        case false: throw RepoError(.hashMismatch, "the bytes given for \(cid) do not hash to it")
        case nil: throw RepoError(.unsupportedHash, "\(cid) uses hash \(cid.multihash.code), which PinMesh cannot verify; use sha2-256 or blake2b-256")
        }
    }

    static func checkSize(_ count: Int, allowBig: Bool) throws(RepoError) {
        if count > hardBlockLimit {
            throw RepoError(.tooLarge, "block of \(count) bytes is over the hard limit of \(hardBlockLimit) bytes. Chunk the data with UnixFS (`add`)")
        }
        if !allowBig && count > softBlockLimit {
            throw RepoError(
                .tooLarge,
                "produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override")
        }
    }

    private func writeFile(_ target: String, _ bytes: [UInt8]) throws(RepoError) -> Bool {
        let dir = String(target[..<target.lastIndex(of: "/")!])
        let temp = "\(dir)/.temp-\(UInt64.random(in: 0...UInt64.max))"
        var fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            mkdir(dir, 0o755)
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw Self.ioError("create", temp) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        if !ok {
            let error = Self.ioError("write", temp)
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        // link(2) refuses to replace: if a concurrent writer put the same block first, ours is
        // simply dropped and the count stays right.
        if link(temp, target) != 0 {
            let code = errno
            unlink(temp)
            if code == EEXIST { return false }
            errno = code
            throw Self.ioError("link", target)
        }
        unlink(temp)
        return true
    }

    private static func ioError(_ op: String, _ path: String) -> RepoError {
        let reason = String(cString: strerror(errno))
        if errno == ENOSPC {
            return RepoError(.storageFull, "the disk is full: cannot \(op) \(path) (\(reason)). Free disk space or lower StorageMax")
        }
        return RepoError(.io, "cannot \(op) \(path): \(reason)")
    }

    /// The verified bytes of a block.
    public func get(_ cid: CID) throws(RepoError) -> [UInt8] {
        if cid.multihash.code == .identity { return cid.multihash.digest }
        let p = path(cid.multihash)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw RepoError.blockNotFound(cid) }
            throw Self.ioError("open", p)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.ioError("stat", p) }
        let size = Int(st.st_size)
        guard size <= Self.hardBlockLimit else {
            throw RepoError(.corrupt, "block \(cid) at \(p) is \(size) bytes, over any block size: the file is corrupt. Remove it with `block/rm` and fetch the block again")
        }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var got = 0
            while got < size {
                let n = read(fd, buf.baseAddress! + got, size - got)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                got += n
            }
            failed = got != size
            count = got
        }
        if failed { throw Self.ioError("read", p) }
        switch cid.multihash.verifies(bytes) {
        case true: return bytes
        case false:
            throw RepoError(.corrupt, "block \(cid) at \(p) does not match its hash: the file is corrupt. Remove it with `block/rm` and fetch the block again")
        case nil:
            throw RepoError(.unsupportedHash, "\(cid) uses hash \(cid.multihash.code), which PinMesh cannot verify")
        }
    }

    /// Removes a block; returns whether it was there.
    @discardableResult
    public func delete(_ multihash: Multihash) throws(RepoError) -> Bool {
        if multihash.code == .identity { return false }
        let p = path(multihash)
        var st = stat()
        guard stat(p, &st) == 0 else { return false }
        guard unlink(p) == 0 else {
            if errno == ENOENT { return false }
            throw Self.ioError("remove", p)
        }
        lock.lock()
        usedBytes -= min(usedBytes, UInt64(st.st_size))
        objectCount -= 1
        lock.unlock()
        return true
    }

    /// Flushes every block written so far to the disk: the durability barrier to run before a
    /// write is acknowledged.
    public func sync() throws(RepoError) {
        #if os(Linux)
        guard pinmesh_syncfs(syncFD) == 0 else { throw Self.ioError("sync", directory) }
        #else
        guard fsync(syncFD) == 0 else { throw Self.ioError("sync", directory) }
        #endif
    }

    /// The shard directories, in order (walk them with ``blocks(inShard:)``).
    public func shards() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.count == 2 }.sorted()
    }

    /// The multihash and modification time of every block in one shard directory.
    public func blocks(inShard shard: String) -> [(Multihash, Date)] {
        let shardPath = directory + "/" + shard
        var out: [(Multihash, Date)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: shardPath)) ?? [] where name.hasSuffix(".data") {
            let key = name.dropLast(5)
            guard let bytes = try? Multibase.base32Upper.decodeWithoutPrefix(key),
                  let mh = try? Multihash(bytes: bytes) else { continue }
            var st = stat()
            guard stat(shardPath + "/" + name, &st) == 0 else { continue }
            out.append((mh, Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec) + TimeInterval(st.st_mtim.tv_nsec) / 1e9)))
        }
        return out
    }
}

#if os(Linux)
/// glibc's `syncfs(2)`, which the Glibc module does not export (it needs `_GNU_SOURCE`).
@_silgen_name("syncfs")
private func pinmesh_syncfs(_ fd: Int32) -> Int32
#endif
