import Foundation
#if canImport(LlamaCpp)
import LlamaCpp
#endif
import PeriscopeLanguage
import Transformer

/// `load "name-or-path"`: loads a GGUF model (or reuses the resident copy) and makes it current.
enum LoadCommand {
    static let spec = CommandSpec(
        name: "load",
        group: .models,
        synopsis: "load \"name-or-path\" [activations f32|int8] [on local | on [\"host:port\", …]]",
        description: "Loads a model and makes it the current one. Shows its model card: architecture, sizes, parameters, quantisation, memory, load time. `\"smollm2\"` names the bundled default, SmolLM2-135M-Instruct, kept in $PERISCOPE_HOME/models (default ~/.cache/periscope/models; `make model` fetches it); any other text is the path of a GGUF file. Loading a file that is already resident reuses it. `on [\"host:port\", …]` runs the model in llama.cpp with its layers split across those `ggml-rpc-server`s (unauthenticated and unencrypted: keep them on loopback or a private network); `on local` runs it in llama.cpp on this machine, for comparison. Hook points map to llama.cpp's tensors (hook_embed, resid_pre, resid_mid, attn_out, mlp_out, resid_post, ln_final; `hooks` lists each tensor name); gradients and attention patterns need Periscope's own runtime. A ggml-rpc-server serves one client at a time: each split model needs servers of its own. `activations int8` multiplies 8-bit activations by the quantised weights, as llama.cpp does, where a kernel exists for the tensor type: faster on K-quant models, at up to ~1e-3 relative error per product; the default, `f32`, keeps every product within F32 rounding of transformers. The two are separate resident models.",
        positionals: [Parameter("model", .string, required: true, summary: "a known model name (`smollm2`) or a .gguf path",
                                completions: { _, _ in ModelCatalog.entries.map { quoted($0.name) } })],
        keywords: [Parameter("on", .value, summary: "`local` or a list of \"host:port\" RPC servers: run the model in llama.cpp there",
                             words: ["local"]),
                   Parameter("activations", .choice(ActivationPrecision.allCases.map(\.rawValue), allowsInt: false),
                             summary: "`f32` (default: transformers' arithmetic) or `int8` (llama.cpp's 8-bit activations: faster, ~1e-3 per product)")],
        example: "m = load \"smollm2\"",
        run: { arguments, context in
            let store = context.session.models
            let (name, path) = try store.resolve(arguments.string("model") ?? "", range: arguments.range(of: "model"))
            if arguments.has("on") && arguments.has("activations") {
                // llama.cpp chooses its own activation types.
                throw CommandError.conflictingArguments("`on`", "`activations`", range: arguments.range(of: "activations"))
            }
            if arguments.has("on") {
                #if !canImport(LlamaCpp)
                throw CommandError.noLlamaBackend(range: arguments.range(of: "on"))
                #else
                let endpoints = try placement(arguments)
                for e in endpoints {
                    let host = (try? Endpoint.parse(e).host) ?? e
                    if !Endpoint.isLocalOrPrivate(host) {
                        context.warn("warning: \(e) is neither loopback nor a private address; ggml-rpc-server has no authentication or encryption, so anyone who reaches it can run code on it and read the model.\n")
                    }
                }
                // The same file on the same servers is the resident model; a server another
                // model holds would never answer this one (one client at a time).
                if let resident = store.model(atPath: path + " on " + LlamaCppBackend.placement(endpoints: endpoints)),
                   (resident.model.backend as? LlamaCppBackend)?.isAlive == true {
                    store.use(resident)
                    return .object(ModelValue(resident, reused: true))
                }
                for other in store.models {
                    guard let backend = other.model.backend as? LlamaCppBackend, backend.isAlive,
                          let shared = backend.endpoints.first(where: endpoints.contains) else { continue }
                    throw CommandError.llamaCpp(.serverInUse(endpoint: shared, model: other.name), range: arguments.range(of: "on"))
                }
                let loaded = try readInBackground(name: name + "@llama.cpp", task: context.task) {
                    try ModelStore.read(name: name + "@llama.cpp", path: path, endpoints: endpoints)
                }
                store.add(loaded)
                return .object(ModelValue(loaded))
                #endif
            }
            let activations = arguments.word("activations").flatMap(ActivationPrecision.init(rawValue:))
                ?? kernelConfiguration.defaultActivations
            if let resident = store.model(atPath: ModelStore.identity(path: path, activations: activations)) {
                store.use(resident)
                return .object(ModelValue(resident, reused: true))
            }
            // The 8-bit model of a file is named apart from its F32 model, as llama.cpp's is.
            let modelName = activations == .f32 ? name : name + "@" + activations.rawValue
            let loaded = try readInBackground(name: modelName, task: context.task) {
                try ModelStore.read(name: modelName, path: path, activations: activations)
            }
            store.add(loaded)
            return .object(ModelValue(loaded))
        })

    /// Reads the model on another thread while this one keeps the progress bar moving and watches
    /// for an interrupt; an interrupted load is abandoned (its result is dropped when it ends).
    static func readInBackground(name: String, task: TaskContext, read: @escaping @Sendable () throws -> LoadedModel) throws -> LoadedModel {
        let box = ResultBox()
        let thread = Thread { box.set(Result { try read() }) }
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

    #if canImport(LlamaCpp)
    /// The servers `on` names: `local` (none: llama.cpp in this machine's process) or a list of
    /// "host:port" strings.
    static func placement(_ arguments: BoundArguments) throws -> [String] {
        let range = arguments.range(of: "on")
        let expected = "`local` or a list of \"host:port\" strings, e.g. `on [\"127.0.0.1:50052\"]`"
        // A server address as llama.cpp needs it, the error pointing at `on`.
        func endpoint(_ text: String) throws -> String {
            do { _ = try Endpoint.parse(text) } catch let error as LlamaCppError { throw CommandError.llamaCpp(error, range: range) }
            return text
        }
        switch arguments.value("on") {
        case .symbol("local")?, .string("local")?:
            return []
        case .list(let items)?:
            let endpoints = try items.map { item -> String in
                guard case .string(let text) = item else {
                    throw CommandError.wrongItem(parameter: "on", expected: "\"host:port\" strings", given: item.sourceText, range: range)
                }
                return try endpoint(text)
            }
            guard !endpoints.isEmpty else {
                throw CommandError.tooFewItems(parameter: "on", verb: arguments.verb, count: 0, needed: 1, items: "\"host:port\" servers", range: range)
            }
            return endpoints
        case .string(let text)?:
            return [try endpoint(text)]
        case .symbol(let word)?:
            throw CommandError.unknownChoice(word, parameter: "on", verb: arguments.verb, valid: ["local", "[\"host:port\", …]"],
                                             suggestions: suggestions(for: word, among: ["local"]), range: range)
        case let value:
            throw CommandError.typeMismatch(parameter: "on", verb: arguments.verb, expected: expected,
                                            given: value.map { withArticle($0.typeName) } ?? "nothing", range: range)
        }
    }

    #endif

    /// The background load's outcome, handed across threads.
    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Result<LoadedModel, Error>?
        var result: Result<LoadedModel, Error>? { lock.lock(); defer { lock.unlock() }; return stored }
        func set(_ value: Result<LoadedModel, Error>) { lock.lock(); stored = value; lock.unlock() }
    }
}
