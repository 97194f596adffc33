import Crypto
import Foundation
import Interpretability
import Transformer

// MARK: - Tuned lenses kept in the model cache

/// Tuned lenses are fitted once per model file and kept beside the models, under
/// `$PERISCOPE_HOME/models/tuned/`, named by the SHA-256 of the GGUF file and of the text sample,
/// so a later session (or another path to the same file) reads them back instead of fitting again.
final class TunedLensStore {
    /// Lenses read or fitted in this session, by model path.
    private var lenses: [String: TunedLens] = [:]
    /// File hashes already computed, by file path.
    private var hashes: [String: String] = [:]

    static var directory: String { (ModelCatalog.modelsDirectory as NSString).appendingPathComponent("tuned") }

    /// Whether the lens was read from the cache (`false`: fitted now).
    private(set) var lastWasCached = true

    /// The tuned lens of `model`: from this session, else from the model cache, else fitted on
    /// the built-in text sample and written to the cache.
    func lens(for model: LoadedModel, task: TaskContext) throws -> TunedLens {
        if let lens = lenses[model.path] { lastWasCached = true; return lens }
        let file = try cacheFile(for: model)
        let c = model.config
        if let data = FileManager.default.contents(atPath: file),
           let lens = TunedLens(data: data, layers: c.layerCount, width: c.modelDim) {
            lenses[model.path] = lens
            lastWasCached = true
            return lens
        }
        let texts = FitTexts.sample.texts.map { model.tokenizer.encode($0).map(Int.init) }
        let lens = try TunedLens.fit(model: model.model, texts: texts, context: task)
        try? FileManager.default.createDirectory(atPath: Self.directory, withIntermediateDirectories: true)
        // Written under a temporary name and moved, so a reader never sees half a file.
        let partial = file + ".part-\(ProcessInfo.processInfo.processIdentifier)"
        if FileManager.default.createFile(atPath: partial, contents: lens.data()) {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.moveItem(atPath: partial, toPath: file)
        }
        lenses[model.path] = lens
        lastWasCached = false
        return lens
    }

    /// `tuned/<file sha256>-<sample sha256 prefix>.tunedlens`.
    func cacheFile(for model: LoadedModel) throws -> String {
        let fileHash: String
        // The file's hash: one lens serves every resident model of the same file.
        if let known = hashes[model.filePath] {
            fileHash = known
        } else {
            fileHash = try Self.sha256(ofFile: model.filePath)
            hashes[model.filePath] = fileHash
        }
        let sample = SHA256.hash(data: Data(FitTexts.sample.texts.joined(separator: "\n").utf8)).map { String(format: "%02x", $0) }.joined()
        return (Self.directory as NSString).appendingPathComponent("\(fileHash)-\(sample.prefix(12)).tunedlens")
    }

    /// The SHA-256 of a file, read in 4 MiB pieces.
    static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CommandError.cannotRead(what: "the model file", path: path, purpose: "to key its tuned lens", range: nil)
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

enum TunedLensStoreKey: SessionKey { typealias Value = TunedLensStore }

extension Session {
    /// Tuned lenses of the session's models.
    var tunedLenses: TunedLensStore {
        if let store = self[TunedLensStoreKey.self] { return store }
        let store = TunedLensStore()
        self[TunedLensStoreKey.self] = store
        return store
    }
}
