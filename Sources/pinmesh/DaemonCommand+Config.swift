import Foundation
import Logging
import Node

extension DaemonCommand {
    /// Reads `<dir>/service.json` (ipfs-cluster's files as they are) and the peer's identity:
    /// identity.json, else the `cluster.id`/`cluster.private_key` an older ipfs-cluster file
    /// holds. Errors say what is wrong and what to run.
    static func loadConfiguration(_ options: ConfigOptions) throws -> (ServiceConfig, ServiceConfig.LoadNotes, IdentityFile) {
        let dir = options.path
        let servicePath = (dir as NSString).appendingPathComponent("service.json")
        guard let data = FileManager.default.contents(atPath: servicePath) else {
            throw StartupError(description: "no configuration at \(servicePath): run `pinmesh init --config \(dir)` first")
        }
        let service: ServiceConfig
        let notes: ServiceConfig.LoadNotes
        do {
            (service, notes) = try ServiceConfig.read(data)
        } catch {
            throw StartupError(description: "\(error)")
        }
        let identity: IdentityFile
        do {
            if !FileManager.default.fileExists(atPath: options.identityPath), let legacy = notes.legacyIdentity {
                identity = try IdentityFile.decode(id: legacy.id, privateKey: legacy.privateKey, source: "\(servicePath) (cluster.private_key)")
            } else {
                identity = try IdentityFile.load(options.identityPath)
            }
        } catch let error as IdentityError {
            throw StartupError(description: error.description)
        }
        return (service, notes, identity)
    }

    /// One warning naming every ipfs-cluster key the file set that PinMesh does not act on.
    static func warnIgnored(_ notes: ServiceConfig.LoadNotes, logger: Logger) {
        guard !notes.ignored.isEmpty else { return }
        let lines = notes.ignored.map { "  \($0.key): \($0.instead)" }.joined(separator: "\n")
        logger.warning("service.json sets ipfs-cluster keys PinMesh does not act on:\n\(lines)")
    }
}
