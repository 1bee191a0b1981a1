public import Multiformats

/// A request path of the path gateway, checked: `/ipfs/<cid>[/<name>…][/]`.
///
/// Rules (each refusal is a ``GatewayError`` with code `badRequest`, `/ipns/` `notImplemented`):
/// - the raw path is at most ``maxPathBytes`` bytes, percent-escapes are decoded per segment
///   (a malformed escape is refused), decoded names are valid UTF-8;
/// - a name is at most ``maxNameBytes`` bytes (255: what UnixFS importers and file systems
///   allow), at most ``maxSegments`` names;
/// - `.` and `..` names, NUL bytes and `/` inside a decoded name are refused (a content path is
///   never relative); empty segments (`//`) are skipped, as kubo does;
/// - the CID is CIDv0 or CIDv1 in any multibase the project decodes.
public struct GatewayPath: Hashable, Sendable {
    public static let maxPathBytes = 4096
    public static let maxNameBytes = 255
    public static let maxSegments = 64

    public let cid: CID
    /// The decoded names after the CID.
    public let names: [String]
    /// The request path ended with `/`.
    public let trailingSlash: Bool

    public init(cid: CID, names: [String] = [], trailingSlash: Bool = false) {
        self.cid = cid
        self.names = names
        self.trailingSlash = trailingSlash
    }

    /// The content path as `X-Ipfs-Path` states it: `/ipfs/<cid as requested>/<names…>`.
    public var contentPath: String {
        var s = "/ipfs/" + cidText
        for n in names { s += "/" + GatewayPath.escape(n) }
        return s
    }

    /// The CID as the request spelled it (kept for `X-Ipfs-Path` and redirects).
    public var cidText: String { cid.description }

    /// Parses a request path (without the query).
    public static func parse(_ raw: String) throws(GatewayError) -> GatewayPath {
        guard raw.utf8.count <= maxPathBytes else {
            throw GatewayError(.badRequest, "the path is \(raw.utf8.count) bytes; the gateway accepts paths up to \(maxPathBytes) bytes")
        }
        let parts = raw.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map { Array($0) }
        guard let ns = parts.first else { throw GatewayError(.notFound, "nothing is served at /: ask for /ipfs/<cid>") }
        if ns == Array("ipns".utf8) {
            throw GatewayError(
                .notImplemented, "/ipns/ paths are not supported by this gateway (PinMesh resolves no IPNS names or DNSLink); ask for /ipfs/<cid>")
        }
        guard ns == Array("ipfs".utf8) else {
            throw GatewayError(.notFound, "nothing is served at /\(String(decoding: ns, as: UTF8.self)): ask for /ipfs/<cid>")
        }
        guard parts.count >= 2 else { throw GatewayError(.badRequest, "the path /ipfs/ names no CID: ask for /ipfs/<cid>") }
        let cidText = try decodeSegment(parts[1])
        let cid: CID
        do throws(MultiformatsError) {
            cid = try CID(cidText)
        } catch {
            throw GatewayError(.badRequest, "invalid CID in the path: \(error.message)")
        }
        guard parts.count - 2 <= maxSegments else {
            throw GatewayError(.badRequest, "the path has \(parts.count - 2) names after the CID; the gateway follows at most \(maxSegments)")
        }
        var names: [String] = []
        for p in parts.dropFirst(2) { names.append(try decodeSegment(p)) }
        return GatewayPath(cid: cid, names: names, trailingSlash: raw.utf8.last == UInt8(ascii: "/") && parts.count >= 2)
    }

    /// One percent-decoded, checked path segment.
    static func decodeSegment(_ bytes: [UInt8]) throws(GatewayError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) else {
                    throw GatewayError(.badRequest, "the path has a malformed percent-escape (write %XX with two hex digits)")
                }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        guard out.count <= maxNameBytes else {
            throw GatewayError(.badRequest, "a path name is \(out.count) bytes; names are at most \(maxNameBytes) bytes")
        }
        guard !out.contains(0) else { throw GatewayError(.badRequest, "a path name contains a NUL byte") }
        guard !out.contains(UInt8(ascii: "/")) else { throw GatewayError(.badRequest, "a path name contains an escaped '/' (%2F)") }
        guard out != [UInt8(ascii: ".")], out != [UInt8(ascii: "."), UInt8(ascii: ".")] else {
            throw GatewayError(.badRequest, "the path contains '.' or '..': content paths are absolute, write the names from the CID down")
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw GatewayError(.badRequest, "a path name is not valid UTF-8")
        }
        return text
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A name percent-escaped for a URL path: unreserved characters and sub-delimiters kept,
    /// everything else (including `%`, `?`, `#`, spaces, non-ASCII) as `%XX`.
    public static func escape(_ name: String) -> String {
        var out = ""
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"),
                UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
                UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 15)]))
            }
        }
        return out
    }
}
