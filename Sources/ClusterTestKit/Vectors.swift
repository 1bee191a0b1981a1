public import Foundation
public import ClusterModel

/// Known-answer vectors under `Specs/vectors/`, and the shared ones beside the repository.
public enum Vectors {
    /// The repository root, found from this file's path.
    public static let repositoryRoot: URL = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// The bytes of `Specs/vectors/<name>`.
    public static func data(_ name: String) throws -> Data {
        try Data(contentsOf: repositoryRoot.appendingPathComponent("Specs/vectors").appendingPathComponent(name))
    }

    /// Decodes `Specs/vectors/<name>` as JSON.
    public static func json<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: data(name))
    }
}

/// Hex helpers for tests.
public enum Hex {
    /// Decodes lowercase or uppercase hex; traps on malformed test input.
    public static func bytes(_ hex: String) -> [UInt8] {
        let chars = Array(hex.utf8)
        precondition(chars.count % 2 == 0, "odd-length hex in a test vector: \(hex)")
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: preconditionFailure("bad hex digit in a test vector: \(hex)")
            }
        }
        return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
    }

    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// The deterministic generator tests use; the same seed gives the same run.
public typealias SeededRandom = SplitMix64
