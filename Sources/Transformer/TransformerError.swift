// MARK: - Errors

/// Everything that can go wrong while loading or running a model. Each case carries the facts
/// (the key, the value, the valid range); `description` alone turns them into a sentence a user
/// can act on.
public enum TransformerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The GGUF file names an architecture this forward pass does not implement.
    case unsupportedArchitecture(String)
    /// A required metadata key is absent or has the wrong type.
    case missingMetadata(key: String)
    /// A head count (`key` = `value`) that is not positive or does not divide `mustDivide`, the
    /// value of metadata key `dividend`.
    case badHeadCount(key: String, value: Int, mustDivide: Int, dividend: String)
    /// A required tensor is absent from the file.
    case missingTensor(String)
    /// A tensor has a shape other than the config implies.
    case badTensorShape(name: String, expected: [Int], found: [Int])
    /// A token id outside `0..<vocabularySize`.
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    /// A generation was asked to continue a prompt without tokens.
    case emptyPrompt
    /// The sequences, start layers (for a resumed pass) and KV caches of a batch are not one each.
    case cacheCount(sequences: Int, startLayers: Int?, caches: Int)
    /// The sequences of a batch have different or zero numbers of new tokens.
    case unequalLengths([Int])
    /// Logits at every position were asked of a resumed batch whose sequences have different row counts.
    case raggedLogits(rows: [Int])
    /// Resumed sequence `sequence` holds `count` floats, not a whole, nonzero number of rows of `width`.
    case partialRows(sequence: Int, count: Int, width: Int)
    /// The start layers of a resumed batch decrease somewhere along the batch.
    case unsortedStartLayers([Int])
    /// Resumed sequence `sequence`'s KV cache (`length` positions) is not cut at its start layer:
    /// layers from `startLayer` up must hold `length` positions and those below `length + rows`.
    case cacheNotCut(sequence: Int, length: Int, startLayer: Int, rows: Int)
    /// A read-out of `rows` vectors of `width` numbers was given `count` numbers.
    case readoutShape(rows: Int, width: Int, count: Int)
    /// A top-K read-out with K outside `1...vocabularySize`.
    case topKOutOfRange(k: Int, vocabularySize: Int)
    /// The run would go past the model's context window.
    case contextOverflow(needed: Int, contextLength: Int)
    /// A layer index outside `0..<layerCount`.
    case layerOutOfRange(layer: Int, layerCount: Int)
    /// A gradient pass was given `metrics` metrics for `sequences` sequences.
    case metricCount(sequences: Int, metrics: Int)
    /// A gradient was asked for at a hook point the backward pass does not report.
    case noGradient(point: String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let arch):
            let known = ModelConfig.supportedArchitectures.sorted()
            return "The model architecture '\(arch)' is not supported; Periscope runs "
                + (known.dropLast().joined(separator: ", ") + " and " + (known.last ?? "")) + " GGUF files."
        case .missingMetadata(let key):
            return "The GGUF file has no usable metadata key '\(key)'; the file may be incomplete or not a language model."
        case .badHeadCount(let key, let value, let mustDivide, let dividend):
            return "The GGUF file's '\(key)' is \(value), but it must be positive and divide '\(dividend)' (\(mustDivide)); the file is inconsistent."
        case .missingTensor(let name):
            return "The GGUF file has no tensor named '\(name)'; the file may be incomplete or for another architecture."
        case .badTensorShape(let name, let expected, let found):
            return "Tensor '\(name)' has shape \(found) but the model's configuration needs \(expected); the file is inconsistent."
        case .tokenOutOfRange(let token, let vocabularySize):
            return "Token id \(token) is outside the vocabulary (0..<\(vocabularySize)); use ids the model's tokenizer produced."
        case .emptyPrompt:
            return "The prompt has no tokens; give at least one."
        case .cacheCount(let sequences, let startLayers, let caches):
            let layers = startLayers.map { "\($0) start layers, " } ?? ""
            return "The batch has \(sequences) sequences, \(layers)\(caches) KV caches; give one of each per sequence."
        case .unequalLengths(let lengths):
            return "Every sequence of a batch needs the same, nonzero number of new tokens, but they have "
                + lengths.map(String.init).joined(separator: ", ") + "; run them separately or pad them."
        case .raggedLogits(let rows):
            return "Logits at every position need the same number of rows in every sequence, but they have "
                + rows.map(String.init).joined(separator: ", ") + "; ask for the last position only."
        case .partialRows(let sequence, let count, let width):
            return "Resumed sequence \(sequence) holds \(count) numbers, not a whole, nonzero number of rows of \(width)."
        case .unsortedStartLayers(let layers):
            return "The start layers \(layers) decrease along the batch; sort the sequences by start layer."
        case .cacheNotCut(let sequence, let length, let startLayer, let rows):
            return "KV cache \(sequence) must hold \(length) positions in layers \(startLayer) and up and \(length + rows) below; cut a full run's cache with truncate(to:fromLayer:)."
        case .readoutShape(let rows, let width, let count):
            return "The read-out of \(rows) rows needs \(rows) × \(width) = \(rows * width) numbers, but got \(count)."
        case .topKOutOfRange(let k, let vocabularySize):
            return "Top \(k) is out of range; valid: 1...\(vocabularySize) (the vocabulary size)."
        case .contextOverflow(let needed, let contextLength):
            return "The run needs \(needed) positions but the model's context holds \(contextLength); use a shorter prompt or fewer new tokens."
        case .layerOutOfRange(let layer, let layerCount):
            return "Layer \(layer) does not exist; this model has layers 0...\(layerCount - 1)."
        case .metricCount(let sequences, let metrics):
            return "The gradient pass has \(sequences) sequences but \(metrics) metrics; give one metric per sequence."
        case .noGradient(let point):
            return "The backward pass reports no gradient at \(point) (attention scores and patterns are recomputed row by row, never held whole); ask at attn.hook_z, attn.hook_q, attn.hook_k or attn.hook_v instead."
        }
    }
}
