import ArgumentParser
import Foundation
import PeriscopeKernel

/// `periscope run FILE.scope`: runs a script outside Jupyter.
struct RunSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a .scope script and print the text of each output; stop at the first error (exit 1).")

    @Argument(help: "The script to run.")
    var file: String

    func run() throws {
        let source: String
        do {
            source = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            FileHandle.standardError.write(Data("periscope run: cannot read \(file): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        let err: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
        let io = ConsoleIO(out: { FileHandle.standardOutput.write(Data($0.utf8)) }, err: err)
        let status = runScript(source, io: io, err: err)
        if status != 0 { throw ExitCode(status) }
    }
}
