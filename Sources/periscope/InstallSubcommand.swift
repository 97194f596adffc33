import ArgumentParser
import Foundation
import PeriscopeKernel

/// `periscope install [--user | --sys-prefix | --prefix P]`: writes the kernelspec.
struct InstallSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install the Periscope kernelspec so Jupyter lists the kernel, and register `periscope lsp` with jupyter-lsp.",
        discussion: "Without an option it installs system-wide (/usr/local/share/jupyter), like `jupyter kernelspec install`.")

    @Flag(help: "Install for the current user (~/.local/share/jupyter).")
    var user = false

    @Flag(name: .customLong("sys-prefix"), help: "Install into the active Python environment (sys.prefix).")
    var sysPrefix = false

    @Option(help: "Install under this prefix: <prefix>/share/jupyter/kernels/periscope.")
    var prefix: String?

    func validate() throws {
        if [user, sysPrefix, prefix != nil].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --user, --sys-prefix and --prefix.")
        }
    }

    func run() throws {
        let destination: Kernelspec.Destination =
            user ? .user : sysPrefix ? .sysPrefix : prefix.map { .prefix(absolute($0)) } ?? .system
        do {
            let binary = try binaryPath()
            let folder = try Kernelspec.install(binaryPath: binary, destination: destination)
            print("Installed the Periscope kernelspec in \(folder.path)")
            let config = try LanguageServerSpec.install(binaryPath: binary, destination: destination)
            print("Registered the language server (`periscope lsp`) with jupyter-lsp in \(config.path)")
        } catch {
            FileHandle.standardError.write(Data("periscope install: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// The absolute, symlink-free path of this executable, for kernel.json's argv.
    private func binaryPath() throws -> String {
        if let path = Bundle.main.executableURL?.resolvingSymlinksInPath().path, path.hasPrefix("/") {
            return path
        }
        let argument = CommandLine.arguments.first ?? "periscope"
        return URL(fileURLWithPath: absolute(argument)).resolvingSymlinksInPath().path
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardized.path
    }
}
