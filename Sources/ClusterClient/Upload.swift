public import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOConcurrencyHelpers

/// One part of an upload to `POST /add`, as `ipfs add` and ipfs-cluster-ctl send them.
public struct UploadEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file(path: String)
        case directory
        case symlink(target: String)
        case standardInput
    }
    /// The path inside the upload ("dir/sub/file"); "" for standard input.
    public var name: String
    public var kind: Kind
    /// Bytes of content (files only; 0 for standard input, whose size is unknown).
    public var size: UInt64

    public init(name: String, kind: Kind, size: UInt64 = 0) {
        self.name = name
        self.kind = kind
        self.size = size
    }

    /// The entries for `paths` as `ipfs add` walks them: a directory needs `recursive`, its
    /// children come after it sorted by name (bytes), names starting with a dot are skipped
    /// unless `hidden`; symlinks are sent as links, not followed. `-` is standard input.
    public static func walk(_ paths: [String], recursive: Bool, hidden: Bool) throws -> [UploadEntry] {
        let fm = FileManager.default
        var out: [UploadEntry] = []
        func visit(_ path: String, name: String) throws {
            var st = stat()
            guard lstat(path, &st) == 0 else {
                throw ClusterClient.ClientError(status: nil, message: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                out.append(UploadEntry(name: name, kind: .symlink(target: try fm.destinationOfSymbolicLink(atPath: path))))
            case S_IFDIR:
                guard recursive else { throw ClusterClient.ClientError(status: nil, message: "\(path) is a directory: add it with -r (--recursive)") }
                out.append(UploadEntry(name: name, kind: .directory))
                let children = try fm.contentsOfDirectory(atPath: path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                for child in children where hidden || !child.hasPrefix(".") {
                    try visit(path + "/" + child, name: name + "/" + child)
                }
            case S_IFREG:
                out.append(UploadEntry(name: name, kind: .file(path: path), size: UInt64(st.st_size)))
            default:
                throw ClusterClient.ClientError(status: nil, message: "\(path) is neither a file, a directory nor a symlink")
            }
        }
        for p in paths {
            if p == "-" {
                out.append(UploadEntry(name: "", kind: .standardInput))
                continue
            }
            var base = p
            while base.count > 1, base.hasSuffix("/") { base.removeLast() }
            try visit(base, name: (base as NSString).lastPathComponent)
        }
        return out
    }
}

/// A `multipart/form-data` body made of upload entries, read from disk a chunk at a time as
/// the HTTP client asks for it: memory stays at one chunk whatever the size. `sent` hears
/// the content bytes handed on so far.
public struct MultipartUpload: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let entries: [UploadEntry]
    public let boundary: String
    let chunkBytes: Int
    let sent: @Sendable (UInt64) -> Void

    public init(entries: [UploadEntry], chunkBytes: Int = 1 << 20, sent: @escaping @Sendable (UInt64) -> Void = { _ in }) {
        self.entries = entries
        boundary = "pinmesh-\(UInt64.random(in: 0...UInt64.max))"
        self.chunkBytes = chunkBytes
        self.sent = sent
    }

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// The request body for `AsyncHTTPClient`.
    public var body: HTTPClientRequest.Body { .stream(self, length: .unknown) }

    /// The part headers of one entry.
    static func header(_ e: UploadEntry, boundary: String, first: Bool) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "\"%;")
        let name = e.name.addingPercentEncoding(withAllowedCharacters: allowed) ?? e.name
        let type: String
        switch e.kind {
        case .directory: type = "application/x-directory"
        case .symlink: type = "application/symlink"
        case .file, .standardInput: type = "application/octet-stream"
        }
        return (first ? "" : "\r\n") + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: \(type)\r\n\r\n"
    }

    public func makeAsyncIterator() -> Iterator { Iterator(upload: self) }

    public struct Iterator: AsyncIteratorProtocol {
        let upload: MultipartUpload
        var index = 0
        var handle: FileHandle?
        var total: UInt64 = 0
        var done = false

        init(upload: MultipartUpload) { self.upload = upload }

        public mutating func next() async throws -> ByteBuffer? {
            if let h = handle {
                let data = try h.read(upToCount: upload.chunkBytes) ?? Data()
                if !data.isEmpty {
                    total += UInt64(data.count)
                    upload.sent(total)
                    return ByteBuffer(bytes: data)
                }
                if h !== FileHandle.standardInput { try? h.close() }
                handle = nil
                index += 1
            }
            guard !done else { return nil }
            guard index < upload.entries.count else {
                done = true
                return ByteBuffer(string: (upload.entries.isEmpty ? "" : "\r\n") + "--\(upload.boundary)--\r\n")
            }
            let e = upload.entries[index]
            var out = ByteBuffer(string: MultipartUpload.header(e, boundary: upload.boundary, first: index == 0))
            switch e.kind {
            case .directory:
                index += 1
            case .symlink(let target):
                out.writeString(target)
                index += 1
            case .file(let path):
                guard let h = FileHandle(forReadingAtPath: path) else {
                    throw ClusterClient.ClientError(status: nil, message: "cannot open \(path) for reading")
                }
                handle = h
            case .standardInput:
                handle = FileHandle.standardInput
            }
            return out
        }
    }
}

extension ClusterClient {
    /// Uploads `upload` to `POST /add` with `query`; each `AddedOutput` line goes to `line`.
    public func add(_ upload: MultipartUpload, query: [(String, String)], _ line: ([UInt8]) async throws -> Void) async throws {
        try await lines(.POST, "/add", query: query, upload: upload.body, contentType: upload.contentType, line)
    }
}
