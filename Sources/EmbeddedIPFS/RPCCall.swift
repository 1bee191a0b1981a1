import ClusterModel
import Foundation
public import Multiformats

/// An error the RPC API returns as kubo does: `{"Message":…,"Code":…,"Type":"error"}` with
/// status 500 for `Code` 0 (the command failed) and 400 for `Code` 1 (the request is wrong).
public struct KuboError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public let code: Int

    public static func client(_ message: String) -> KuboError { KuboError(message: message, code: 1) }
    public static func normal(_ message: String) -> KuboError { KuboError(message: message, code: 0) }

    public var status: Int { code == 1 ? 400 : 500 }
    public var description: String { message }

    public var json: String {
        "{\"Message\":\(JSONText.string(message)),\"Code\":\(code),\"Type\":\"error\"}"
    }
}

/// The arguments and options of one call: kubo's `?arg=…&arg=…&opt=…`, with each option found
/// by any of its names (`recursive` or `r`).
public struct RPCCall: Sendable {
    public let command: String
    public let args: [String]
    public let options: [String: [String]]

    public init(command: String, query: String?) throws(KuboError) {
        self.command = command
        var args: [String] = []
        var options: [String: [String]] = [:]
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(parts[0]) else { throw .client("malformed query parameter name \(String(parts[0]).debugDescription)") }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            guard let value else { throw .client("malformed value for option \(key.debugDescription)") }
            if key == "arg" { args.append(value) } else { options[key, default: []].append(value) }
        }
        self.args = args
        self.options = options
    }

    /// Percent-decoding with `+` as a space (form encoding, as Go's `url.ParseQuery`).
    static func decode(_ s: Substring) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    func raw(_ names: [String]) throws(KuboError) -> String? {
        var found: String?
        for n in names {
            if let v = options[n] {
                if v.count > 1 || found != nil { throw .client("option \(names[0].debugDescription) given more than once") }
                found = v[0]
            }
        }
        return found
    }

    /// A boolean option, parsed like Go's `strconv.ParseBool` (an empty value means true).
    public func bool(_ names: String..., default def: Bool) throws(KuboError) -> Bool {
        guard let v = try raw(names) else { return def }
        switch v {
        case "", "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw .client("could not convert value \(v.debugDescription) to type bool (for option \"-\(names[0])\")")
        }
    }

    public func int(_ names: String..., default def: Int?) throws(KuboError) -> Int? {
        guard let v = try raw(names) else { return def }
        guard let n = Int(v) else { throw .client("could not convert value \(v.debugDescription) to type int (for option \"-\(names[0])\")") }
        return n
    }

    public func string(_ names: String...) throws(KuboError) -> String? { try raw(names) }

    /// The `timeout` option every kubo command takes, a Go duration ("30s", "1m30s", "250ms").
    public func timeout() throws(KuboError) -> Duration? {
        guard let v = try raw(["timeout"]) else { return nil }
        guard let d = Self.parseGoDuration(v) else {
            throw .client("time: invalid duration \(v.debugDescription) (for option \"-timeout\"); write it as Go does, e.g. 30s or 1m30s")
        }
        return d
    }

    static func parseGoDuration(_ text: String) -> Duration? { GoDuration.parse(text) }

    /// The `n`th argument as a CID (or `/ipfs/<cid>` path), with kubo's error when it is not.
    public func cid(_ index: Int = 0, what: String = "argument \"cid\"") throws(KuboError) -> CID {
        guard index < args.count else { throw .client("\(what) is required") }
        return try Self.parseCID(args[index])
    }

    public static func parseCID(_ text: String) throws(KuboError) -> CID {
        var t = Substring(text)
        if t.hasPrefix("/ipfs/") { t = t.dropFirst(6) }
        if let slash = t.firstIndex(of: "/") { t = t[..<slash] }
        do {
            return try CID(String(t))
        } catch {
            throw .client("invalid path \(text.debugDescription): \(error.message)")
        }
    }

    public func requireArgs(_ what: String) throws(KuboError) {
        if args.isEmpty { throw .client("argument \"\(what)\" is required") }
    }
}

/// Small, fast JSON text building for the API's fixed shapes (strings escaped as Go's encoder does).
public enum JSONText {
    public static func string(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"  // as Go's encoder: safe to embed in HTML
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
        return out
    }

    public static func strings(_ items: [String]) -> String {
        "[" + items.map(string).joined(separator: ",") + "]"
    }

    /// `{"/": "<cid>"}`, the dag-json link form kubo uses in some outputs.
    public static func link(_ cid: CID) -> String { "{\"/\":\"\(cid)\"}" }
}
