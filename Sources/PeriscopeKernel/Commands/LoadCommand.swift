import Foundation
import Transformer

/// `load "name-or-path"`: loads a GGUF model (or reuses the resident copy) and makes it current.
enum LoadCommand {
    static let spec = CommandSpec(
        name: "load",
        group: .models,
        synopsis: "load \"name-or-path\"",
        description: "Loads a model and makes it the current one. Shows its model card: architecture, sizes, parameters, quantisation, memory, load time. `\"smollm2\"` names the bundled default, SmolLM2-135M-Instruct, kept in $PERISCOPE_HOME/models (default ~/.cache/periscope/models; `make model` fetches it); any other text is the path of a GGUF file. Loading a file that is already resident reuses it.",
        positionals: [Parameter("model", .string, required: true, summary: "a known model name (`smollm2`) or a .gguf path",
                                completions: { _, _ in ModelCatalog.entries.map { quoted($0.name) } })],
        example: "m = load \"smollm2\"",
        run: { arguments, context in
            let store = context.session.models
            let (name, path) = try store.resolve(arguments.string("model") ?? "", range: arguments.range(of: "model"))
            if let resident = store.model(atPath: path) {
                store.use(resident)
                return .object(ModelValue(resident, reused: true))
            }
            let loaded = try readInBackground(name: name, path: path, task: context.task)
            store.add(loaded)
            return .object(ModelValue(loaded))
        })

    /// Reads the model on another thread while this one keeps the progress bar moving and watches
    /// for an interrupt; an interrupted load is abandoned (its result is dropped when it ends).
    static func readInBackground(name: String, path: String, task: TaskContext) throws -> LoadedModel {
        let box = ResultBox()
        let thread = Thread { box.set(Result { try ModelStore.read(name: name, path: path) }) }
        thread.stackSize = 8 << 20
        thread.start()
        let start = Date()
        while true {
            if let result = box.result { return try result.get() }
            try task.checkCancelled()
            let elapsed = Date().timeIntervalSince(start)
            // The length of a load is unknown in advance: approach 1 without reaching it.
            task.report(1 - exp(-elapsed / 1.5), String(format: "loading %@ (%.1f s)", name, elapsed))
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// The background load's outcome, handed across threads.
    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Result<LoadedModel, Error>?
        var result: Result<LoadedModel, Error>? { lock.lock(); defer { lock.unlock() }; return stored }
        func set(_ value: Result<LoadedModel, Error>) { lock.lock(); stored = value; lock.unlock() }
    }
}
