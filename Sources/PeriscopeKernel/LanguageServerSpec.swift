import Foundation
import JupyterProtocol

/// Registers `periscope lsp` with jupyter-lsp: a Jupyter server config file in
/// `jupyter_server_config.d` whose `LanguageServerManager.language_servers` names the server for
/// the language `periscope`, so jupyterlab-lsp starts it for notebooks on the Periscope kernel.
public enum LanguageServerSpec {
    /// The server's key in `language_servers`, and the config file's name.
    public static let key = "periscope"
    public static let fileName = "periscope-lsp.json"

    /// The config file's content for a binary at `binaryPath`.
    public static func configJSON(binaryPath: String) -> JSONValue {
        [
            "LanguageServerManager": [
                "language_servers": [
                    .init(stringLiteral: key): [
                        "version": 2,
                        "argv": [.string(binaryPath), "lsp"],
                        "languages": ["periscope"],
                        "mime_types": ["text/x-periscope"],
                        "display_name": "Periscope language server",
                        // The server reads documents from the protocol; jupyter-lsp need not write them to disk.
                        "requires_documents_on_disk": false,
                    ],
                ],
            ],
        ]
    }

    /// The `jupyter_server_config.d` folder Jupyter reads for `destination`: the config side of the
    /// same environment the kernelspec goes to (`<prefix>/etc/jupyter`, `~/.jupyter`, `/usr/local/etc/jupyter`).
    public static func directory(for destination: Kernelspec.Destination,
                                 environment: [String: String] = ProcessInfo.processInfo.environment,
                                 pythonPrefix: () -> String? = Kernelspec.pythonSysPrefix) throws -> URL {
        let configDirectory: URL
        switch destination {
        case .system:
            configDirectory = URL(fileURLWithPath: "/usr/local/etc/jupyter")
        case .user:
            if let custom = environment["JUPYTER_CONFIG_DIR"], !custom.isEmpty {
                configDirectory = URL(fileURLWithPath: custom)
            } else {
                let home = environment["HOME"].map { URL(fileURLWithPath: $0) }
                    ?? FileManager.default.homeDirectoryForCurrentUser
                configDirectory = home.appendingPathComponent(".jupyter")
            }
        case .sysPrefix:
            let prefix = [environment["VIRTUAL_ENV"], environment["CONDA_PREFIX"]].compactMap { $0 }
                .first { !$0.isEmpty } ?? pythonPrefix()
            guard let prefix else { throw Kernelspec.InstallError.noPythonEnvironment }
            configDirectory = URL(fileURLWithPath: prefix).appendingPathComponent("etc/jupyter")
        case .prefix(let prefix):
            configDirectory = URL(fileURLWithPath: prefix).appendingPathComponent("etc/jupyter")
        }
        return configDirectory.appendingPathComponent("jupyter_server_config.d")
    }

    /// Writes the config file; returns its path.
    @discardableResult
    public static func install(binaryPath: String, destination: Kernelspec.Destination,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               pythonPrefix: () -> String? = Kernelspec.pythonSysPrefix) throws -> URL {
        let folder = try directory(for: destination, environment: environment, pythonPrefix: pythonPrefix)
        let file = folder.appendingPathComponent(fileName)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data((prettyJSON(configJSON(binaryPath: binaryPath)) + "\n").utf8).write(to: file, options: .atomic)
        } catch {
            throw Kernelspec.InstallError.languageServerConfigFailed(path: file.path, reason: error.localizedDescription)
        }
        return file
    }
}
