import ArgumentParser
import Foundation
import JupyterZMQ
import PeriscopeKernel

/// `periscope kernel --connection-file F`: serves one kernel until shutdown.
///
/// A restart request also ends the process: Jupyter's kernel manager waits for the process to
/// exit and starts a fresh one on new ports (as with ipykernel).
struct KernelSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Run the kernel for a Jupyter client (started by Jupyter from kernel.json).")

    @Option(name: [.customLong("connection-file"), .customShort("f")],
            help: "The connection file Jupyter wrote (ports, key, transport).")
    var connectionFile: String

    func run() throws {
        do {
            _ = try serveKernel(connectionFile: connectionFile, interpreter: PeriscopeInterpreter())
        } catch {
            FileHandle.standardError.write(Data("periscope kernel: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
