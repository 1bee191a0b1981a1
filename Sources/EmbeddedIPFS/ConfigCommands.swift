import Foundation
import Hummingbird
import Multiformats

/// kubo's `config` (get `KEY`, set `KEY VALUE` with `--json`/`--bool`), `config/show` and
/// `key/list` (core/commands/config.go, keystore.go, kubo 0.40), over the repository's
/// `config` file. A set is written to the file at once (atomically, mode 0600) when the new
/// file still reads as a valid config; like kubo, the running node reads most keys only at
/// start. `Identity.PrivKey` is never shown or changed.
extension KuboRPCServer {
    static let configLock = NSLock()

    var configPath: String { repo.root + "/config" }

    func readConfigJSON() throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: configPath),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw KuboError.normal("failed to load config: \(configPath) is missing or not a JSON object") }
        return obj
    }

    static func jsonText(_ v: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    func config(_ c: RPCCall) async throws -> Response {
        try c.requireArgs("key")
        let key = c.args[0]
        switch key.lowercased() {
        case "identity", "identity.privkey": throw KuboError.normal("cannot show or change private key through API")
        default: break
        }
        if c.args.count >= 2 {
            let text = c.args[1]
            let value: Any
            if try c.bool("json", default: false) {
                guard let v = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                    throw KuboError.normal("failed to unmarshal json. invalid JSON: \(text)")
                }
                value = v
            } else if try c.bool("bool", default: false) {
                value = text == "true"
            } else {
                value = text
            }
            try Self.configLock.withLock {
                var cfg = try readConfigJSON()
                try Self.setKey(&cfg, key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), value)
                let data = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                do {
                    let typed = try JSONDecoder().decode(RepoConfig.self, from: data)
                    _ = try typed.storageMaxBytes
                    _ = try typed.peerID
                } catch {
                    throw KuboError.normal("failed to set config value: \(error) (maybe use --json?)")
                }
                let tmp = configPath + ".tmp"
                guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]),
                    rename(tmp, configPath) == 0
                else { throw KuboError.normal("failed to set config value: cannot write \(configPath)") }
            }
        }
        let cfg = try readConfigJSON()
        let value = try Self.getKey(cfg, key)
        return Self.json("{\"Key\":\(JSONText.string(key)),\"Value\":\(try Self.jsonText(value))}")
    }

    func configShow(_ c: RPCCall) throws -> Response {
        var cfg = try readConfigJSON()
        if var id = cfg["Identity"] as? [String: Any] {
            id.removeValue(forKey: "PrivKey")
            cfg["Identity"] = id
        }
        return Self.json(try Self.jsonText(cfg))
    }

    /// kubo's MapGetKV, with its errors.
    static func getKey(_ cfg: [String: Any], _ key: String) throws -> Any {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var cursor: Any = cfg
        for (i, part) in parts.enumerated() {
            let sofar = parts[..<i].joined(separator: ".")
            guard let m = cursor as? [String: Any] else { throw KuboError.normal("failed to get config value: \"\(sofar) key is not a map\"") }
            guard let next = m[part] else {
                throw KuboError.normal("failed to get config value: \"\((sofar.isEmpty ? "" : sofar + ".") + part) not found\"")
            }
            cursor = next
        }
        return cursor
    }

    /// kubo's MapSetKV: missing (or null) maps on the way are created.
    static func setKey(_ m: inout [String: Any], _ parts: [String], _ value: Any, depth: Int = 0) throws {
        let part = parts[depth]
        if depth == parts.count - 1 {
            m[part] = value
            return
        }
        var child: [String: Any]
        switch m[part] {
        case nil, is NSNull: child = [:]
        case let c as [String: Any]: child = c
        default:
            throw KuboError.normal("failed to set config value: \(parts[...depth].joined(separator: ".")) key is not a map (maybe use --json?)")
        }
        try setKey(&child, parts, value, depth: depth + 1)
        m[part] = child
    }

    func keyList(_ c: RPCCall) throws -> Response {
        _ = try c.bool("l", default: false)
        let format = try c.string("ipns-base", "f") ?? "base36"
        let id: String
        switch format {
        case "b58mh": id = repo.peerID.description
        default:
            // kubo prints the peer ID as a CIDv1 libp2p-key in the given base (base36 by default).
            let base = try CIDText.base(named: format)
            id = CID.v1(codec: .libp2pKey, repo.peerID.multihash).string(base: base)
        }
        return Self.json("{\"Keys\":[{\"Name\":\"self\",\"Id\":\"\(id)\"}]}")
    }
}
