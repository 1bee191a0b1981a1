public import Multiformats

/// A dag-pb link: the child's CID, an optional name, and the child's cumulative size.
public struct PBLink: Hashable, Sendable {
    public var hash: CID
    /// Present (possibly empty) in every link kubo writes; absent only in foreign DAGs.
    public var name: String?
    public var tsize: UInt64?

    public init(hash: CID, name: String? = "", tsize: UInt64?) {
        self.hash = hash
        self.name = name
        self.tsize = tsize
    }
}

/// A dag-pb node, encoded in the canonical form of the dag-pb specification: every link
/// (field 2) first, then the optional Data (field 1); within a link Hash, Name, Tsize.
public struct PBNode: Hashable, Sendable {
    /// The largest block PinMesh decodes or writes (kubo refuses larger blocks on the network).
    public static let maxBlockBytes = 2 * 1024 * 1024

    public var links: [PBLink]
    public var data: [UInt8]?

    public init(links: [PBLink] = [], data: [UInt8]?) {
        self.links = links
        self.data = data
    }

    /// The canonical encoding.
    public func encoded() -> [UInt8] {
        var w = ProtoWriter(capacity: encodedSize)
        for link in links {
            w.bytesField(2, PBNode.linkBytes(link))
        }
        if let data { w.bytesField(1, data) }
        return w.bytes
    }

    /// The exact size of ``encoded()``.
    public var encodedSize: Int {
        var n = 0
        for link in links { n += ProtoWriter.bytesFieldSize(2, count: PBNode.linkSize(link)) }
        if let data { n += ProtoWriter.bytesFieldSize(1, count: data.count) }
        return n
    }

    static func linkBytes(_ link: PBLink) -> [UInt8] {
        var w = ProtoWriter(capacity: linkSize(link))
        w.bytesField(1, link.hash.bytes)
        if let name = link.name { w.bytesField(2, Array(name.utf8)) }
        if let tsize = link.tsize { w.varintField(3, tsize) }
        return w.bytes
    }

    static func linkSize(_ link: PBLink) -> Int {
        var n = ProtoWriter.bytesFieldSize(1, count: link.hash.bytes.count)
        if let name = link.name { n += ProtoWriter.bytesFieldSize(2, count: name.utf8.count) }
        if let tsize = link.tsize { n += ProtoWriter.varintFieldSize(3, tsize) }
        return n
    }

    /// Decodes a dag-pb block strictly: canonical field order, no unknown or repeated fields,
    /// every link with a Hash, names valid UTF-8, at most ``maxBlockBytes``.
    public init(decoding bytes: [UInt8]) throws(UnixFSError) {
        guard bytes.count <= PBNode.maxBlockBytes else {
            throw UnixFSError(.tooLarge, "dag-pb block of \(bytes.count) bytes exceeds \(PBNode.maxBlockBytes)")
        }
        var r = ProtoReader(bytes, what: "dag-pb node")
        var links: [PBLink] = []
        var data: [UInt8]?
        while !r.isAtEnd {
            let tag = try r.readTag()
            guard tag.wire == WireType.lengthDelimited.rawValue else {
                throw UnixFSError(.nonCanonical, "dag-pb node: field \(tag.field) has wire type \(tag.wire), expected 2")
            }
            switch tag.field {
            case 2:
                guard data == nil else {
                    throw UnixFSError(.nonCanonical, "dag-pb node: a link after Data (links must come first)")
                }
                links.append(try PBNode.decodeLink(bytes, range: r.readLengthDelimited()))
            case 1:
                guard data == nil else { throw UnixFSError(.nonCanonical, "dag-pb node: Data appears twice") }
                data = Array(bytes[try r.readLengthDelimited()])
            default:
                throw UnixFSError(.nonCanonical, "dag-pb node: unknown field \(tag.field)")
            }
        }
        self.links = links
        self.data = data
    }

    static func decodeLink(_ bytes: [UInt8], range: Range<Int>) throws(UnixFSError) -> PBLink {
        var r = ProtoReader(bytes, range: range, what: "dag-pb link")
        var hash: CID?
        var name: String?
        var tsize: UInt64?
        var lastField: UInt64 = 0
        while !r.isAtEnd {
            let tag = try r.readTag()
            guard tag.field > lastField else {
                throw UnixFSError(.nonCanonical, "dag-pb link: field \(tag.field) out of order or repeated")
            }
            lastField = tag.field
            switch (tag.field, tag.wire) {
            case (1, 2):
                let raw = Array(bytes[try r.readLengthDelimited()])
                do throws(MultiformatsError) {
                    hash = try CID(bytes: raw)
                } catch {
                    throw UnixFSError(error, context: "dag-pb link Hash")
                }
            case (2, 2):
                let raw = bytes[try r.readLengthDelimited()]
                guard let s = String(validating: raw, as: UTF8.self) else {
                    throw UnixFSError(.invalidValue, "dag-pb link Name is not valid UTF-8")
                }
                name = s
            case (3, 0):
                tsize = try r.readVarint()
            default:
                throw UnixFSError(.nonCanonical, "dag-pb link: unexpected field \(tag.field) wire type \(tag.wire)")
            }
        }
        guard let hash else { throw UnixFSError(.missingField, "dag-pb link has no Hash") }
        return PBLink(hash: hash, name: name, tsize: tsize)
    }
}
