import Foundation

/// The spec's JSON objects (`Pin`, `PinStatus`, `PinResults`, `Failure`).
public enum PSAJSON {
    public struct Pin: Codable, Sendable, Equatable {
        public var cid: String
        public var name: String?
        public var origins: [String]?
        public var meta: [String: String]?
        public init(cid: String, name: String? = nil, origins: [String]? = nil, meta: [String: String]? = nil) {
            self.cid = cid
            self.name = name
            self.origins = origins
            self.meta = meta
        }
    }

    public struct PinStatus: Codable, Sendable, Equatable {
        public var requestid: String
        public var status: PSAStatus
        public var created: String
        public var pin: Pin
        public var delegates: [String]
        public var info: [String: String]?
    }

    public struct PinResults: Codable, Sendable, Equatable {
        public var count: Int
        public var results: [PinStatus]
    }

    public struct Failure: Codable, Sendable, Equatable {
        public struct Body: Codable, Sendable, Equatable {
            public var reason: String
            public var details: String?
        }
        public var error: Body
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return e
    }()
}
