public import Foundation
public import Multiformats
public import UnixFS

/// What `add` reports for each file, symlink and directory, as `ipfs add` prints it.
public struct AddedEntry: Hashable, Sendable {
    /// The path as the user named it (`dir/sub/file`); empty for a `--wrap-with-directory` root.
    public let path: String
    public let cid: CID
    /// Cumulative size (what kubo reports as Size).
    public let size: UInt64
}

/// Options of an add from the filesystem, as `ipfs add`'s flags.
public struct AddOptions: Sendable {
    public var settings: ImportSettings
    public var recursive = false
    /// Include files and directories whose names start with a dot.
    public var hidden = false
    public var wrapWithDirectory = false
    /// Keep blocks and hand them to the block handler (false: only CIDs).
    public var keepBlocks = false
    /// Bytes read from a file per write into the importer.
    public var readSize = 4 << 20
    /// Called after every read with the bytes imported so far in this add (all files).
    public var progress: (@Sendable (_ bytes: UInt64) -> Void)?

    public init(settings: ImportSettings) { self.settings = settings }
}

/// An error adding from the filesystem, naming the path and what to do.
public struct AddError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Adds files and directory trees from the filesystem with the UnixFS importer, reporting
/// entries in the order `ipfs add` prints them: files as they are imported, then directories
/// (children before parents, by name), then the wrapping directory.
public struct PathAdder {
    public let options: AddOptions
    private let parallelFor: ParallelFor?
    private let encoder: NodeEncoder
    private var directoryLines: [AddedEntry] = []
    private var bytesImported: UInt64 = 0

    public init(options: AddOptions, parallelFor: ParallelFor? = DispatchParallel.allCores) throws(UnixFSError) {
        try options.settings.validate()
        self.options = options
        self.parallelFor = parallelFor
        encoder = NodeEncoder(settings: options.settings, keepBlocks: options.keepBlocks)
    }

    /// Adds `paths`; calls `entry` for each output line and `blocks` with blocks as they are
    /// made (children before parents). Returns the root of the last path (or the wrapper).
    public mutating func add(
        _ paths: [String], entry: (AddedEntry) throws -> Void, blocks: ([Block]) throws -> Void = { _ in }
    ) throws -> CID {
        precondition(!paths.isEmpty, "add needs at least one path")
        var tops: [DirectoryEntry] = []
        var topDirectories: [(String, [AddedEntry])] = []
        for path in paths {
            let name = (path as NSString).lastPathComponent
            directoryLines = []
            let node = try addItem(path: path, display: name, entry: entry, blocks: blocks)
            tops.append(DirectoryEntry(name: name, node: node))
            topDirectories.append((name, directoryLines))
        }
        // kubo lists the top-level directories by name once everything is added.
        for (_, lines) in topDirectories.sorted(by: { $0.0 < $1.0 }) {
            for line in lines { try entry(line) }
        }
        if options.wrapWithDirectory {
            var out: [Block] = []
            let wrapper = try DirectoryEncoder(encoder: encoder).directory(tops, blocks: &out)
            try blocks(out)
            try entry(AddedEntry(path: "", cid: wrapper.cid, size: wrapper.cumulativeSize))
            return wrapper.cid
        }
        return tops.last!.node.cid
    }

    private mutating func addItem(
        path: String, display: String, entry: (AddedEntry) throws -> Void, blocks: ([Block]) throws -> Void
    ) throws -> ImportedNode {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw AddError(message: "cannot read \(path): \(error.localizedDescription)")
        }
        switch attributes[.type] as? FileAttributeType {
        case .typeSymbolicLink:
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: path)
            let node = DirectoryEncoder(encoder: encoder).symlink(target: target)
            if let b = node.block { try blocks([b]) }
            try entry(AddedEntry(path: display, cid: node.node.cid, size: node.node.cumulativeSize))
            return node.node
        case .typeDirectory:
            guard options.recursive else {
                throw AddError(message: "\(path) is a directory, use the '-r' flag to add directories")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { options.hidden || !$0.hasPrefix(".") }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            var children: [DirectoryEntry] = []
            for name in names {
                let child = try addItem(
                    path: (path as NSString).appendingPathComponent(name), display: display + "/" + name,
                    entry: entry, blocks: blocks)
                children.append(DirectoryEntry(name: name, node: child))
            }
            var out: [Block] = []
            let node = try DirectoryEncoder(encoder: encoder).directory(children, blocks: &out)
            try blocks(out)
            directoryLines.append(AddedEntry(path: display, cid: node.cid, size: node.cumulativeSize))
            return node
        case .typeRegular:
            let node = try importFile(path: path, blocks: blocks)
            try entry(AddedEntry(path: display, cid: node.cid, size: node.cumulativeSize))
            return node
        default:
            throw AddError(message: "\(path) is not a regular file, directory or symlink; only those can be added")
        }
    }

    private mutating func importFile(path: String, blocks: ([Block]) throws -> Void) throws -> ImportedNode {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AddError(message: "cannot open \(path) for reading: check that it exists and is readable")
        }
        defer { try? handle.close() }
        var importer = try FileImporter(settings: options.settings, keepBlocks: options.keepBlocks, parallelFor: parallelFor)
        while true {
            let data = try handle.read(upToCount: options.readSize) ?? Data()
            if data.isEmpty { break }
            data.withUnsafeBytes { importer.write($0) }
            report(data.count)
            if options.keepBlocks { try blocks(importer.takeBlocks()) }
        }
        let root = importer.finish()
        if options.keepBlocks { try blocks(importer.takeBlocks()) }
        return root
    }

    private mutating func report(_ n: Int) {
        bytesImported += UInt64(n)
        options.progress?(bytesImported)
    }

    /// Imports standard input (or any handle) as one file.
    public mutating func add(handle: FileHandle, name: String, entry: (AddedEntry) throws -> Void, blocks: ([Block]) throws -> Void = { _ in }) throws -> CID {
        var importer = try FileImporter(settings: options.settings, keepBlocks: options.keepBlocks, parallelFor: parallelFor)
        while let data = try handle.read(upToCount: options.readSize), !data.isEmpty {
            data.withUnsafeBytes { importer.write($0) }
            report(data.count)
            if options.keepBlocks { try blocks(importer.takeBlocks()) }
        }
        let root = importer.finish()
        if options.keepBlocks { try blocks(importer.takeBlocks()) }
        try entry(AddedEntry(path: name, cid: root.cid, size: root.cumulativeSize))
        return root.cid
    }
}
