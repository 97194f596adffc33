import Foundation
#if canImport(LlamaCpp)
import LlamaCpp
#endif
import Rendering
import Transformer

// MARK: - Model value

/// A resident model as a value (`m = load "smollm2"`); displays as its model card.
public struct ModelValue: ValueContent, Sendable {
    public let loaded: LoadedModel
    /// True when `load` found the file already resident.
    public var reused: Bool

    public init(_ loaded: LoadedModel, reused: Bool = false) { self.loaded = loaded; self.reused = reused }

    public var typeName: String { "Model" }
    public var summary: String {
        "Model \(loaded.name) (\(loaded.config.architecture), \(loaded.config.layerCount) layers, d_model \(loaded.config.modelDim))"
    }

    /// The card: architecture, sizes, parameters, quantisation, memory, load time.
    public var card: Card {
        let c = loaded.config
        let types = loaded.tensorTypeCounts.map { "\($0.type) ×\($0.count)" }.joined(separator: ", ")
        // The weights are the mapped file's pages (products read the blocks in place); beside them
        // only the F32 norms and the activation buffers of the last pass.
        let mapped = loaded.model.file.fileSize
        var memory = "mapped file \(formatBytes(mapped))"
        if let inMemory = loaded.model.file.residentMappedBytes { memory += " (\(formatBytes(inMemory)) of it in memory)" }
        memory += " + norms \(formatBytes(loaded.model.weights.residentBytes)) + activations \(formatBytes(loaded.model.activationBytes))"
        if let rss = Model.residentMemoryBytes() { memory += "; process RSS \(formatBytes(rss)) (with every cache)" }
        let vocab = loaded.tokenizer.vocabulary
        let load = reused
            ? String(format: "%.2f s (already resident, reused)", loaded.loadSeconds)
            : String(format: "%.2f s", loaded.loadSeconds)
        return Card(title: "Model \(loaded.name)", [
            ("architecture", c.architecture),
            ("layers", "\(c.layerCount)"),
            ("d_model", "\(c.modelDim)"),
            ("heads", "\(c.headCount) (d_head \(c.headDim))"),
            ("kv heads", "\(c.kvHeadCount)"),
            ("d_ff", "\(c.ffnDim)"),
            ("vocab", "\(c.vocabularySize)"),
            ("context", "\(c.contextLength)"),
            ("parameters", "\(formatCount(c.parameterCount)) (\(c.parameterCount))"),
            ("quantisation", types),
            ("activations", activationsLine),
            ("tokenizer", "\(vocab.algorithm.rawValue) (pre \(vocab.preTokenizer))" + (vocab.chatTemplate == nil ? "" : ", chat template")),
            ("resident memory", memory),
            ("load time", load),
            ("path", loaded.filePath),
        ] + runsOn, kind: "model")
    }

    /// What the products do with the activations.
    private var activationsLine: String {
        if loaded.model.backend != nil { return "as llama.cpp chooses" }
        switch loaded.model.activations {
        case .f32: return "F32 (every product within F32 rounding of transformers)"
        case .int8: return "8-bit per block where the tensor type has an integer kernel, as llama.cpp (up to ~1e-3 relative error per product)"
        }
    }

    /// Where the forward pass runs: Periscope's own runtime, or llama.cpp and each layer range's server.
    private var runsOn: [(String, String)] {
        #if canImport(LlamaCpp)
        guard let backend = loaded.model.backend as? LlamaCppBackend else { return [("runs on", "Periscope's own runtime")] }
        let t = backend.traffic
        let passes = ("passes so far", "\(t.passes) (\(t.tensorsRead) tensors read, \(t.tensorsWritten) written back)")
        if backend.layout.isEmpty { return [("runs on", "llama.cpp in a worker process on this machine (CPU)"), passes] }
        return [("runs on", "llama.cpp across \(backend.endpoints.count) RPC server(s) (unauthenticated, unencrypted)")]
            + backend.layout.map { place in
                ("layers " + (place.layers.map { "\($0.lowerBound)–\($0.upperBound)" } ?? "none"), place.server)
            } + [passes]
        #else
        return [("runs on", "Periscope's own runtime")]
        #endif
    }

    public func render() -> MimeBundle {
        var bundle = card.mimeBundle
        // The numbers as numbers too, so clients need not parse the card's strings.
        let c = loaded.config
        let extra: JSONOut = .object([
            ("name", .string(loaded.name)),
            ("architecture", .string(c.architecture)),
            ("layers", .int(c.layerCount)),
            ("d_model", .int(c.modelDim)),
            ("heads", .int(c.headCount)),
            ("kv_heads", .int(c.kvHeadCount)),
            ("d_ff", .int(c.ffnDim)),
            ("vocab", .int(c.vocabularySize)),
            ("parameters", .int(c.parameterCount)),
            ("tensor_types", .object(loaded.tensorTypeCounts.map { ($0.type, .int($0.count)) })),
            ("activations", .string(loaded.model.backend == nil ? loaded.model.activations.rawValue : "llama.cpp")),
            ("memory_bytes", .int(loaded.memoryBytes)),
            ("load_seconds", .num(loaded.loadSeconds)),
            ("reused", .bool(reused)),
            ("path", .string(loaded.path)),
        ])
        if case .object(var pairs) = card.json {
            pairs.append(("model", extra))
            bundle.json = JSONOut.object(pairs)
        }
        return bundle
    }
}

// MARK: - Formatting

/// `512 B`, `3.4 KiB`, `540.2 MiB`, `1.50 GiB`.
func formatBytes(_ bytes: Int) -> String {
    let b = Double(bytes)
    if bytes < 1024 { return "\(bytes) B" }
    if b < 1024 * 1024 { return String(format: "%.1f KiB", b / 1024) }
    if b < 1024 * 1024 * 1024 { return String(format: "%.1f MiB", b / 1048576) }
    return String(format: "%.2f GiB", b / 1073741824)
}

/// `134.5M`, `1.1B`, `950K`.
func formatCount(_ n: Int) -> String {
    let d = Double(n)
    if d >= 1e9 { return String(format: "%.1fB", d / 1e9) }
    if d >= 1e6 { return String(format: "%.1fM", d / 1e6) }
    if d >= 1e3 { return String(format: "%.0fK", d / 1e3) }
    return "\(n)"
}

extension Value {
    /// The resident model a `Model` value holds, if it is one.
    var loadedModel: LoadedModel? {
        if case .object(let content as ModelValue) = self { return content.loaded }
        return nil
    }
}
