import ArgumentParser
import PeriscopeKernel
import Transformer

/// `periscope`: the Jupyter kernel, its installer, and a script runner.
@main
struct Periscope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "periscope",
        abstract: "A Jupyter kernel for looking inside language models.",
        version: PeriscopeVersion.current,
        subcommands: subcommands)

    static func main() {
        reloadWithOpenBLASCoreIfMisdetected()
        main(nil)
    }

    #if canImport(LlamaCpp)
    static let subcommands: [ParsableCommand.Type] = [KernelSubcommand.self, InstallSubcommand.self, RunSubcommand.self,
        ModelsSubcommand.self, LexiconSubcommand.self, LSPSubcommand.self, LlamaWorkerSubcommand.self]
    #else
    static let subcommands: [ParsableCommand.Type] = [KernelSubcommand.self, InstallSubcommand.self, RunSubcommand.self,
        ModelsSubcommand.self, LexiconSubcommand.self, LSPSubcommand.self]
    #endif
}
