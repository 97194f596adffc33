#if canImport(LlamaCpp)
import ArgumentParser
import LlamaCpp

/// `periscope llama-worker`: the process the kernel starts to run a model in llama.cpp. It speaks
/// the kernel's pipe protocol on standard input and output; not for people.
struct LlamaWorkerSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama-worker", abstract: "Runs a model in llama.cpp for the kernel (internal).", shouldDisplay: false)

    func run() throws {
        let status = LlamaWorker.serve()
        throw ExitCode(status)
    }
}
#endif
