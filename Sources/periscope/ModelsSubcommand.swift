import ArgumentParser
import Foundation
import PeriscopeKernel

/// `periscope models`: the models Periscope knows by name and the GGUF files in the model cache.
struct ModelsSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the known models (fetched or not) and the GGUF files in the model cache.")

    func run() {
        print("Model cache: \(ModelCatalog.modelsDirectory)")
        let fileManager = FileManager.default
        for entry in ModelCatalog.entries {
            let path = ModelCatalog.path(of: entry)
            let state = fileManager.fileExists(atPath: path) ? "fetched: \(path)" : "not fetched; \(entry.fetchHint)"
            print("  \(entry.name)  \(entry.title)  \(state)")
        }
        let known = Set(ModelCatalog.entries.map(ModelCatalog.path(of:)))
        let others = ModelCatalog.fetchedFiles.filter { !known.contains($0) }
        if !others.isEmpty {
            print("Other GGUF files (load them by path):")
            for path in others { print("  \(path)") }
        }
    }
}
