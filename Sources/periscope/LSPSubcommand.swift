import ArgumentParser
import PeriscopeLSP

/// `periscope lsp`: the language server on stdin/stdout, for JupyterLab (through jupyter-lsp)
/// and editors.
struct LSPSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lsp",
        abstract: "Run the Periscope language server (LSP 3.17) on stdin and stdout.",
        discussion: "Editors start it for .scope files; `periscope install` registers it with jupyter-lsp so notebooks on the Periscope kernel get diagnostics, hover help and completion.")

    @Flag(help: "Accepted for editors that pass it; stdio is the only transport.")
    var stdio = false

    func run() throws {
        let code = StdioTransport.run()
        if code != 0 { throw ExitCode(code) }
    }
}
