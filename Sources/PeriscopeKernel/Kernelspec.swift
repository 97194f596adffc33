import Foundation
import JupyterProtocol

/// Installs the Periscope kernelspec the way `jupyter kernelspec install` lays it out:
/// `<data dir>/kernels/periscope/{kernel.json, logo-32x32.png, logo-64x64.png, logo-svg.svg}`.
public enum Kernelspec {
    /// The kernel's name: the folder under `kernels/`.
    public static let name = "periscope"

    /// Where to install, as `jupyter kernelspec install` chooses.
    public enum Destination: Sendable, Equatable {
        /// The system-wide data directory (`/usr/local/share/jupyter`), Jupyter's default.
        case system
        /// The user's data directory (`$JUPYTER_DATA_DIR`, else `~/.local/share/jupyter`).
        case user
        /// The current Python environment: `$VIRTUAL_ENV` (or `$CONDA_PREFIX`), else `sys.prefix`
        /// of the `python3` on PATH.
        case sysPrefix
        /// `<prefix>/share/jupyter`.
        case prefix(String)
    }

    /// Why installing failed, as sentences the user can act on.
    public enum InstallError: Error, Sendable, Equatable, CustomStringConvertible {
        case noPythonEnvironment
        case writeFailed(path: String, reason: String)
        /// The jupyter-lsp config registering the language server could not be written.
        case languageServerConfigFailed(path: String, reason: String)

        public var description: String {
            switch self {
            case .noPythonEnvironment:
                return "could not find the Python environment for --sys-prefix: activate a virtualenv (so VIRTUAL_ENV is set) or put python3 on PATH, or use --prefix or --user."
            case .writeFailed(let path, let reason):
                return "could not write the kernelspec to \(path): \(reason). Try `periscope install --user`, or --prefix with a writable folder."
            case .languageServerConfigFailed(let path, let reason):
                return "installed the kernelspec, but could not register the language server with jupyter-lsp in \(path): \(reason). Try `periscope install --user`, or --prefix with a writable folder."
            }
        }
    }

    /// The kernel.json content for a binary at `binaryPath`.
    public static func kernelJSON(binaryPath: String) -> JSONValue {
        [
            "argv": [.string(binaryPath), "kernel", "--connection-file", "{connection_file}"],
            "display_name": "Periscope",
            "language": "periscope",
            "interrupt_mode": "message",
            "metadata": ["supported_encryption": ["curve"]],
        ]
    }

    /// The `kernels/periscope` folder for `destination`.
    public static func directory(for destination: Destination,
                                 environment: [String: String] = ProcessInfo.processInfo.environment,
                                 pythonPrefix: () -> String? = pythonSysPrefix) throws -> URL {
        let dataDirectory: URL
        switch destination {
        case .system:
            dataDirectory = URL(fileURLWithPath: "/usr/local/share/jupyter")
        case .user:
            if let custom = environment["JUPYTER_DATA_DIR"], !custom.isEmpty {
                dataDirectory = URL(fileURLWithPath: custom)
            } else {
                let home = environment["HOME"].map { URL(fileURLWithPath: $0) }
                    ?? FileManager.default.homeDirectoryForCurrentUser
                #if os(macOS)
                dataDirectory = home.appendingPathComponent("Library/Jupyter")
                #else
                if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
                    dataDirectory = URL(fileURLWithPath: xdg).appendingPathComponent("jupyter")
                } else {
                    dataDirectory = home.appendingPathComponent(".local/share/jupyter")
                }
                #endif
            }
        case .sysPrefix:
            let prefix = [environment["VIRTUAL_ENV"], environment["CONDA_PREFIX"]].compactMap { $0 }
                .first { !$0.isEmpty } ?? pythonPrefix()
            guard let prefix else { throw InstallError.noPythonEnvironment }
            dataDirectory = URL(fileURLWithPath: prefix).appendingPathComponent("share/jupyter")
        case .prefix(let prefix):
            dataDirectory = URL(fileURLWithPath: prefix).appendingPathComponent("share/jupyter")
        }
        return dataDirectory.appendingPathComponent("kernels").appendingPathComponent(name)
    }

    /// Writes kernel.json and the logos into `directory(for:)`; returns the folder.
    @discardableResult
    public static func install(binaryPath: String, destination: Destination,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               pythonPrefix: () -> String? = pythonSysPrefix) throws -> URL {
        let folder = try directory(for: destination, environment: environment, pythonPrefix: pythonPrefix)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let json = prettyJSON(kernelJSON(binaryPath: binaryPath)) + "\n"
            try Data(json.utf8).write(to: folder.appendingPathComponent("kernel.json"), options: .atomic)
            for (file, base64) in KernelspecAssets.files {
                guard let bytes = Data(base64Encoded: base64) else { continue }
                try bytes.write(to: folder.appendingPathComponent(file), options: .atomic)
            }
        } catch {
            throw InstallError.writeFailed(path: folder.path, reason: error.localizedDescription)
        }
        return folder
    }

    /// `sys.prefix` of the `python3` (or `python`) on PATH, or nil.
    public static func pythonSysPrefix() -> String? {
        for python in ["python3", "python"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, "-c", "import sys; print(sys.prefix)"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { continue }
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { continue }
            let prefix = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !prefix.isEmpty { return prefix }
        }
        return nil
    }
}

/// JSON with two-space indentation and sorted keys (kernel.json is read by people too).
func prettyJSON(_ value: JSONValue, indent: String = "") -> String {
    let inner = indent + "  "
    switch value {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d): return d.isFinite ? "\(d)" : "null"
    case .string(let s): return jsonString(s)
    case .array(let items):
        guard !items.isEmpty else { return "[]" }
        return "[\n" + items.map { inner + prettyJSON($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
    case .object(let members):
        guard !members.isEmpty else { return "{}" }
        let body = members.keys.sorted().map { key in
            inner + jsonString(key) + ": " + prettyJSON(members[key] ?? .null, indent: inner)
        }
        return "{\n" + body.joined(separator: ",\n") + "\n\(indent)}"
    }
}

/// A JSON string literal, escaped as the wire codec escapes it.
func jsonString(_ s: String) -> String { JSONValue.string(s).serialized() }
