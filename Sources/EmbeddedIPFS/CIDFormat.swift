public import Multiformats

/// go-cidutil's `Format` (what `ipfs cid format -f` prints), over PinMesh's multiformats:
///
///     %% literal %          %b multibase name     %B multibase code (its prefix character)
///     %v version string     %V version number     %c codec name         %C codec code
///     %h multihash name     %H multihash code     %L hash digest length
///     %m multihash in base %b (with prefix)       %M the same without the prefix
///     %d digest in base %b (with prefix)          %D the same without the prefix
///     %s CID in base %b (CIDv0: base58btc only)   %S the CID's bytes in base %b, no prefix
///     %P prefix: cidv%V-%c-%h-%L
///
/// Unknown names print as go-cidutil does (`Code(N)` for a codec, `hash?N`).
public enum CIDFormat {
    /// A malformed format string (the whole command fails, as kubo's `FormatStringError`).
    public struct FormatStringError: Error, Equatable, CustomStringConvertible, Sendable {
        public let message: String
        public let specifier: String
        public var description: String { specifier.isEmpty ? message : "\(message): \(specifier)" }
        public init(message: String, specifier: String) {
            self.message = message
            self.specifier = specifier
        }
    }

    /// A CID that cannot be printed as asked (reported on its own line).
    public struct CIDError: Error, Equatable, CustomStringConvertible, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public enum Failure: Error, Equatable { case format(FormatStringError), cid(CIDError) }

    public static func format(_ fmt: String, base: Multibase, cid: CID) throws(Failure) -> String {
        let chars = Array(fmt.unicodeScalars)
        var out = ""
        var i = 0
        let codec = cid.codec.name ?? "Code(\(cid.codec.rawValue))"
        let hash = cid.multihash.code.name ?? "hash?\(cid.multihash.code.rawValue)"
        while i < chars.count {
            let ch = chars[i]
            guard ch == "%" else {
                out.unicodeScalars.append(ch)
                i += 1
                continue
            }
            i += 1
            guard i < chars.count else { throw .format(FormatStringError(message: "premature end of format string", specifier: "")) }
            switch chars[i] {
            case "%": out += "%"
            case "b": out += base.name
            case "B": out.append(base.rawValue)
            case "v": out += "cidv\(cid.version.rawValue)"
            case "V": out += "\(cid.version.rawValue)"
            case "c": out += codec
            case "C": out += "\(cid.codec.rawValue)"
            case "h": out += hash
            case "H": out += "\(cid.multihash.code.rawValue)"
            case "L": out += "\(cid.multihash.digest.count)"
            case "m": out += base.encode(cid.multihash.bytes)
            case "M": out += base.encodeWithoutPrefix(cid.multihash.bytes)
            case "d": out += base.encode(cid.multihash.digest)
            case "D": out += base.encodeWithoutPrefix(cid.multihash.digest)
            case "s":
                if cid.version == .v0 {
                    guard base == .base58btc else { throw .cid(CIDError(description: "invalid base encoding")) }
                    out += cid.description
                } else {
                    out += cid.string(base: base)
                }
            case "S": out += base.encodeWithoutPrefix(cid.bytes)
            case "P": out += "cidv\(cid.version.rawValue)-\(codec)-\(hash)-\(cid.multihash.digest.count)"
            default:
                throw .format(FormatStringError(message: "unrecognized specifier in format string", specifier: "%" + String(chars[i])))
            }
            i += 1
        }
        return out
    }

    /// The multibase a CID's text is in (base58btc for `Qm…` CIDv0).
    public static func base(of text: String) -> Multibase? {
        if text.utf8.count == 46 && text.hasPrefix("Qm") { return .base58btc }
        return text.first.flatMap { Multibase(rawValue: $0) }
    }
}
