/// A self-describing network address: `/ip4/127.0.0.1/tcp/9096/p2p/12D3KooW…`.
///
/// Supported protocols: ip4, ip6, tcp, udp, dns, dns4, dns6, dnsaddr, p2p (also read as `ipfs`),
/// quic, quic-v1. Anything else, and any malformed value, is rejected with the reason.
public struct Multiaddr: Hashable, Sendable, CustomStringConvertible {
    /// The longest binary form accepted.
    public static let maxBinaryBytes = 1024
    /// The longest text form accepted: four times the binary limit, the largest expansion of
    /// any component (`/ip4/255.255.255.255` from 5 bytes), so every valid binary multiaddr
    /// has a valid text form.
    public static let maxTextLength = 4 * maxBinaryBytes
    /// The longest DNS name accepted (RFC 1035).
    public static let maxDNSNameBytes = 255

    public enum Component: Hashable, Sendable, CustomStringConvertible {
        case ip4(IPv4Address)
        case ip6(IPv6Address)
        case tcp(UInt16)
        case udp(UInt16)
        case dns(String)
        case dns4(String)
        case dns6(String)
        case dnsaddr(String)
        case p2p(PeerID)
        case quic
        case quicV1

        /// The multicodec code of the protocol.
        public var code: UInt64 {
            switch self {
            case .ip4: 0x04
            case .tcp: 0x06
            case .ip6: 0x29
            case .dns: 0x35
            case .dns4: 0x36
            case .dns6: 0x37
            case .dnsaddr: 0x38
            case .udp: 0x0111
            case .p2p: 0x01a5
            case .quic: 0x01cc
            case .quicV1: 0x01cd
            }
        }

        /// The protocol name as it appears in text.
        public var protocolName: String {
            switch self {
            case .ip4: "ip4"
            case .ip6: "ip6"
            case .tcp: "tcp"
            case .udp: "udp"
            case .dns: "dns"
            case .dns4: "dns4"
            case .dns6: "dns6"
            case .dnsaddr: "dnsaddr"
            case .p2p: "p2p"
            case .quic: "quic"
            case .quicV1: "quic-v1"
            }
        }

        var valueText: String? {
            switch self {
            case .ip4(let a): a.description
            case .ip6(let a): a.description
            case .tcp(let p), .udp(let p): String(p)
            case .dns(let n), .dns4(let n), .dns6(let n), .dnsaddr(let n): n
            case .p2p(let id): id.description
            case .quic, .quicV1: nil
            }
        }

        public var description: String {
            "/" + protocolName + (valueText.map { "/" + $0 } ?? "")
        }

        func append(to out: inout [UInt8]) {
            Varint.encode(code, into: &out)
            switch self {
            case .ip4(let a): out.append(contentsOf: a.bytes)
            case .ip6(let a): out.append(contentsOf: a.bytes)
            case .tcp(let p), .udp(let p): out.append(contentsOf: [UInt8(p >> 8), UInt8(p & 0xff)])
            case .dns(let n), .dns4(let n), .dns6(let n), .dnsaddr(let n):
                Varint.encode(UInt64(n.utf8.count), into: &out)
                out.append(contentsOf: n.utf8)
            case .p2p(let id):
                Varint.encode(UInt64(id.bytes.count), into: &out)
                out.append(contentsOf: id.bytes)
            case .quic, .quicV1: break
            }
        }
    }

    public let components: [Component]

    public init(components: [Component]) throws(MultiformatsError) {
        guard !components.isEmpty else { throw MFError(.empty, "a multiaddr needs at least one component") }
        for c in components {
            switch c {
            case .dns(let n), .dns4(let n), .dns6(let n), .dnsaddr(let n): try Multiaddr.checkDNSName(n)
            default: break
            }
        }
        self.components = components
        let size = bytes.count
        guard size <= Multiaddr.maxBinaryBytes else {
            throw MFError(.tooLong, "multiaddr of \(size) bytes exceeds the limit of \(Multiaddr.maxBinaryBytes)")
        }
    }

    /// Parses the text form. A single trailing `/` is tolerated, as go-multiaddr does.
    public init(_ text: String) throws(MultiformatsError) {
        guard text.utf8.count <= Multiaddr.maxTextLength else {
            throw MFError(.tooLong, "multiaddr text of \(text.utf8.count) bytes exceeds the limit of \(Multiaddr.maxTextLength)")
        }
        guard text.hasPrefix("/") else {
            throw MFError(.invalidAddress, "multiaddr \"\(CID.excerpt(text))\" must start with '/'")
        }
        var body = text.dropFirst()
        if body.hasSuffix("/") { body = body.dropLast() }
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        var components: [Component] = []
        var i = 0
        func value(_ name: Substring) throws(MultiformatsError) -> Substring {
            guard i + 1 < parts.count, !parts[i + 1].isEmpty else {
                throw MFError(.invalidAddress, "multiaddr \"\(CID.excerpt(text))\": /\(name) needs a value")
            }
            i += 1
            return parts[i]
        }
        while i < parts.count {
            let name = parts[i]
            switch name {
            case "ip4": components.append(.ip4(try IPv4Address(try value(name))))
            case "ip6": components.append(.ip6(try IPv6Address(try value(name))))
            case "tcp": components.append(.tcp(try Multiaddr.port(try value(name), text: text)))
            case "udp": components.append(.udp(try Multiaddr.port(try value(name), text: text)))
            case "dns": components.append(.dns(String(try value(name))))
            case "dns4": components.append(.dns4(String(try value(name))))
            case "dns6": components.append(.dns6(String(try value(name))))
            case "dnsaddr": components.append(.dnsaddr(String(try value(name))))
            case "p2p", "ipfs": components.append(.p2p(try PeerID(String(try value(name)))))
            case "quic": components.append(.quic)
            case "quic-v1": components.append(.quicV1)
            case "":
                throw MFError(.invalidAddress, "multiaddr \"\(CID.excerpt(text))\" has an empty component")
            default:
                throw MFError(.unknownProtocol, "multiaddr \"\(CID.excerpt(text))\": unknown protocol \"\(name)\"")
            }
            i += 1
        }
        try self.init(components: components)
    }

    /// Parses the binary form, which must fill `bytes` exactly.
    public init(bytes: [UInt8]) throws(MultiformatsError) {
        guard bytes.count <= Multiaddr.maxBinaryBytes else {
            throw MFError(.tooLong, "multiaddr of \(bytes.count) bytes exceeds the limit of \(Multiaddr.maxBinaryBytes)")
        }
        var r = ByteReader(bytes)
        var components: [Component] = []
        while !r.isAtEnd {
            let code = try r.readVarint()
            switch code {
            case 0x04: components.append(.ip4(try IPv4Address(bytes: r.readBytes(4, what: "ip4"))))
            case 0x29: components.append(.ip6(try IPv6Address(bytes: r.readBytes(16, what: "ip6"))))
            case 0x06, 0x0111:
                let b = try r.readBytes(2, what: "port")
                let port = UInt16(b[0]) << 8 | UInt16(b[1])
                components.append(code == 0x06 ? .tcp(port) : .udp(port))
            case 0x35, 0x36, 0x37, 0x38:
                let n = try r.readLength(limit: Multiaddr.maxDNSNameBytes, what: "DNS name")
                let raw = try r.readBytes(n, what: "DNS name")
                guard let name = String(validating: raw, as: UTF8.self) else {
                    throw MFError(.invalidAddress, "DNS name in multiaddr is not valid UTF-8")
                }
                components.append(code == 0x35 ? .dns(name) : code == 0x36 ? .dns4(name) : code == 0x37 ? .dns6(name) : .dnsaddr(name))
            case 0x01a5:
                let n = try r.readLength(limit: Multiaddr.maxBinaryBytes, what: "p2p value")
                components.append(.p2p(try PeerID(bytes: r.readBytes(n, what: "p2p value"))))
            case 0x01cc: components.append(.quic)
            case 0x01cd: components.append(.quicV1)
            default:
                throw MFError(.unknownProtocol, "multiaddr has unknown protocol code 0x\(String(code, radix: 16))")
            }
        }
        try self.init(components: components)
    }

    /// The binary form.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for c in components { c.append(to: &out) }
        return out
    }

    public var description: String { components.map(\.description).joined() }

    /// The peer ID of the last `/p2p` component, if any.
    public var peerID: PeerID? {
        for c in components.reversed() { if case .p2p(let id) = c { return id } }
        return nil
    }

    /// This address without a trailing `/p2p/…` component.
    public var withoutPeerID: Multiaddr? {
        guard case .p2p = components.last else { return self }
        return components.count > 1 ? try? Multiaddr(components: Array(components.dropLast())) : nil
    }

    /// This address with `component` appended.
    public func appending(_ component: Component) throws(MultiformatsError) -> Multiaddr {
        try Multiaddr(components: components + [component])
    }

    static func port(_ s: Substring, text: String) throws(MultiformatsError) -> UInt16 {
        guard (1...5).contains(s.utf8.count), s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              s.utf8.count == 1 || s.utf8.first != 0x30, let v = UInt16(s) else {
            throw MFError(.invalidAddress, "multiaddr \"\(CID.excerpt(text))\": port \"\(s)\" is not a number from 0 to 65535 without leading zeros")
        }
        return v
    }

    static func checkDNSName(_ n: String) throws(MultiformatsError) {
        guard !n.isEmpty, n.utf8.count <= maxDNSNameBytes else {
            throw MFError(.invalidAddress, "DNS name must be 1 to \(maxDNSNameBytes) bytes, got \(n.utf8.count)")
        }
        guard !n.contains("/") else {
            throw MFError(.invalidAddress, "DNS name \"\(n)\" must not contain '/'")
        }
    }
}

extension Multiaddr: Codable {
    public init(from decoder: any Decoder) throws {
        self = try Multiaddr(decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
