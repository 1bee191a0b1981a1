/// The version every PinMesh program reports.
public enum PinMeshVersion {
    /// Semantic version of this build.
    public static let string = "0.1.0"
    /// The ipfs-cluster API version whose REST API and JSON PinMesh follows.
    public static let ipfsClusterCompatibility = "1.1.4"
}
