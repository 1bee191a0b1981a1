import ArgumentParser
import Crypto
import Foundation
import LZ4
import Sodium

/// `pinmesh-bench primitives`: the building blocks' rates on this machine, each as a ratio to a
/// memcpy of the same buffer measured in the same run.
struct PrimitivesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "primitives",
        abstract: "Rates of memcpy, SHA-256, BLAKE2b, AEADs, LZ4 and Ed25519 on this machine.")

    @Option(help: "Bytes per buffer for the bulk operations.")
    var size: Int = 64 << 20

    @Option(help: "Repetitions; the median is reported.")
    var repeats: Int = 5

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard size >= 65536 else { throw ValidationError("--size must be at least 65536 bytes") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var sink = [UInt8](repeating: 0, count: size)
        let frame = 64 * 1024

        let memcpy = BenchClock.rate(bytes: size, repeats: repeats) {
            sink.withUnsafeMutableBytes { d in input.withUnsafeBytes { s in d.copyMemory(from: s) } }
        }
        let sha256 = BenchClock.rate(bytes: size, repeats: repeats) {
            input.withUnsafeBytes { buf in
                var off = 0
                while off < buf.count {
                    let end = min(off + 256 * 1024, buf.count)
                    _ = SHA256.hash(data: UnsafeRawBufferPointer(rebasing: buf[off..<end]))
                    off = end
                }
            }
        }
        let blake = BenchClock.rate(bytes: size, repeats: repeats) {
            var h = try! Blake2b(outputBytes: 32)
            input.withUnsafeBytes { h.update($0) }
            _ = h.finalize()
        }
        func aeadRate(_ alg: AEAD.Algorithm) -> Double? {
            guard alg != .aes256GCM || AEAD.isAES256GCMAvailable else { return nil }
            let aead = try! AEAD(alg, key: SecureBytes.random(count: 32))
            let nonce = [UInt8](repeating: 0, count: alg.nonceBytes)
            var out = [UInt8](repeating: 0, count: frame + AEAD.tagBytes)
            return BenchClock.rate(bytes: size, repeats: repeats) {
                input.withUnsafeBytes { buf in
                    nonce.withUnsafeBytes { n in
                        out.withUnsafeMutableBytes { o in
                            var off = 0
                            while off < buf.count {
                                let end = min(off + frame, buf.count)
                                _ = try! aead.seal(UnsafeRawBufferPointer(rebasing: buf[off..<end]), nonce: n,
                                                   authenticating: UnsafeRawBufferPointer(start: nil, count: 0), into: o)
                                off = end
                            }
                        }
                    }
                }
            }
        }
        let xchacha = aeadRate(.xchacha20Poly1305)
        let aesgcm = aeadRate(.aes256GCM)
        let compressed = LZ4.compress(Array(input.prefix(frame)))
        var lzOut = [UInt8](repeating: 0, count: LZ4.compressBound(frame))
        let lz4c = BenchClock.rate(bytes: frame * 256, repeats: repeats) {
            input.withUnsafeBytes { buf in
                lzOut.withUnsafeMutableBytes { o in
                    for _ in 0..<256 { _ = LZ4.compress(UnsafeRawBufferPointer(rebasing: buf[0..<frame]), into: o) }
                }
            }
        }
        let lz4d = BenchClock.rate(bytes: frame * 256, repeats: repeats) {
            compressed.withUnsafeBytes { c in
                lzOut.withUnsafeMutableBytes { o in
                    for _ in 0..<256 { _ = try! LZ4.decompress(c, into: UnsafeMutableRawBufferPointer(rebasing: o[0..<frame])) }
                }
            }
        }
        let key = Ed25519.PrivateKey.generate()
        let message = Array(input.prefix(256))
        let signature = key.signature(for: message)
        let signs = BenchClock.opsRate(ops: 2000, repeats: repeats) { for _ in 0..<2000 { _ = key.signature(for: message) } }
        let verifies = BenchClock.opsRate(ops: 1000, repeats: repeats) {
            for _ in 0..<1000 { _ = key.publicKey.isValidSignature(signature, for: message) }
        }

        var fields: [(String, Double)] = [
            ("memcpy_mb_s", memcpy), ("sha256_mb_s", sha256), ("ratio_sha256_vs_memcpy", sha256 / memcpy),
            ("blake2b_mb_s", blake), ("ratio_blake2b_vs_sha256", blake / sha256),
        ]
        if let xchacha { fields += [("xchacha20poly1305_seal_mb_s", xchacha), ("ratio_xchacha_vs_sha256", xchacha / sha256)] }
        if let aesgcm { fields += [("aes256gcm_seal_mb_s", aesgcm), ("ratio_aesgcm_vs_sha256", aesgcm / sha256)] }
        fields += [
            ("lz4_compress_mb_s", lz4c), ("lz4_decompress_mb_s", lz4d),
            ("ed25519_sign_per_s", signs), ("ed25519_verify_per_s", verifies),
        ]
        BenchReport.print(scenario: "primitives", fields: [("bytes", Double(size))] + fields, json: json)
    }
}

/// Timing helpers: wall-clock medians over repetitions.
enum BenchClock {
    /// Median MB/s (10^6 bytes per second) of `body`, which processes `bytes` bytes per call.
    static func rate(bytes: Int, repeats: Int, _ body: () -> Void) -> Double {
        body()  // warm-up
        let secs = (0..<repeats).map { _ in seconds(body) }.sorted()
        return Double(bytes) / secs[secs.count / 2] / 1e6
    }

    /// Median operations per second of `body`, which performs `ops` operations per call.
    static func opsRate(ops: Int, repeats: Int, _ body: () -> Void) -> Double {
        body()
        let secs = (0..<repeats).map { _ in seconds(body) }.sorted()
        return Double(ops) / secs[secs.count / 2]
    }

    static func seconds(_ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        let d = clock.measure(body)
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Prints a scenario's figures as a table or as one JSON object.
enum BenchReport {
    static func print(scenario: String, fields: [(String, Double)], json: Bool, text: [String: String] = [:]) {
        if json {
            var parts = ["\"scenario\":\"\(scenario)\""]
            for (k, v) in text.sorted(by: { $0.key < $1.key }) { parts.append("\"\(k)\":\"\(v)\"") }
            for (k, v) in fields {
                parts.append("\"\(k)\":\(v.rounded() == v && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.4f", v))")
            }
            Swift.print("{" + parts.joined(separator: ",") + "}")
        } else {
            Swift.print("scenario: \(scenario)")
            for (k, v) in text.sorted(by: { $0.key < $1.key }) { Swift.print("  \(k)  \(v)") }
            let width = fields.map(\.0.count).max() ?? 0
            for (k, v) in fields {
                let value = v.rounded() == v ? String(Int(v)) : String(format: k.hasPrefix("ratio") || abs(v) < 10 ? "%.3f" : "%.1f", v)
                Swift.print("  " + k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
            }
        }
    }
}
