import Foundation

/// The RPC API's query parsing: any bytes as a query string; options read as every type;
/// the JSON strings we write must read back as the same text.
func fuzzRPCQuery(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let call = try? RPCCall(command: "pin/add", query: text) {
        _ = try? call.bool("recursive", "r", default: true)
        _ = try? call.int("max-depth", default: -1)
        _ = try? call.string("name")
        _ = try? call.timeout()
        for i in call.args.indices { _ = try? call.cid(i) }
        for (k, vs) in call.options { for v in vs { _ = RPCCall.parseGoDuration(v); _ = k } }
    }
    _ = RPCCall.parseGoDuration(text)
    let json = JSONText.string(text)
    let back = try? JSONSerialization.jsonObject(with: Data("[\(json)]".utf8)) as? [String]
    fuzzCheck(back == [text], "JSONText.string does not read back: \(json)")
}
