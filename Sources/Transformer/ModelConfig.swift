import GGUF

// MARK: - Configuration

/// How rotary embeddings pair up the dimensions of a head.
public enum RopeStyle: Sendable, Equatable {
    /// Adjacent pairs (x[2i], x[2i+1]) — llama.cpp's "normal" mode. GGUF llama/mistral files store Q/K
    /// weights permuted by the converter so that this pairing matches Hugging Face's rotate-half.
    case adjacent
    /// Halves (x[i], x[i + d/2]) — the GPT-NeoX mode llama.cpp uses for qwen2.
    case halves
}

/// The hyper-parameters of a llama-family model, read from GGUF metadata (`{arch}.*` keys).
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var layerCount: Int        // L, `{arch}.block_count`
    public var modelDim: Int          // d_model, `{arch}.embedding_length`
    public var ffnDim: Int            // d_ff, `{arch}.feed_forward_length`
    public var headCount: Int         // H, `{arch}.attention.head_count`
    public var kvHeadCount: Int       // H_kv, `{arch}.attention.head_count_kv` (grouped-query attention)
    public var headDim: Int           // d_head = d_model / H
    public var ropeDim: Int           // rotated dims per head, `{arch}.rope.dimension_count`
    public var ropeBase: Float        // `{arch}.rope.freq_base`
    public var ropeStyle: RopeStyle
    public var normEpsilon: Float     // `{arch}.attention.layer_norm_rms_epsilon`
    public var contextLength: Int     // `{arch}.context_length`
    public var vocabularySize: Int    // rows of token_embd
    public var tiedOutput: Bool       // no `output.weight`: the unembedding is the token embedding
    public var hasQKVBias: Bool       // qwen2

    /// Query heads per key/value head.
    public var groupSize: Int { headCount / kvHeadCount }
    /// Width of all key (or value) heads together.
    public var kvDim: Int { kvHeadCount * headDim }
    /// Width of all query heads together.
    public var qDim: Int { headCount * headDim }

    public init(architecture: String, layerCount: Int, modelDim: Int, ffnDim: Int, headCount: Int,
                kvHeadCount: Int, ropeDim: Int? = nil, ropeBase: Float = 10_000, ropeStyle: RopeStyle = .adjacent,
                normEpsilon: Float = 1e-5, contextLength: Int = 2048, vocabularySize: Int,
                tiedOutput: Bool, hasQKVBias: Bool = false) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.modelDim = modelDim
        self.ffnDim = ffnDim
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = modelDim / headCount
        self.ropeDim = ropeDim ?? modelDim / headCount
        self.ropeBase = ropeBase
        self.ropeStyle = ropeStyle
        self.normEpsilon = normEpsilon
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
        self.tiedOutput = tiedOutput
        self.hasQKVBias = hasQKVBias
    }

    /// The architectures whose GGUF layout and forward pass this target implements.
    public static let supportedArchitectures: Set<String> = ["llama", "mistral", "qwen2"]

    /// Reads the configuration from a GGUF file's metadata and tensor table.
    public init(gguf: GGUFFile) throws {
        guard let arch = gguf.metadata["general.architecture"]?.string else {
            throw TransformerError.missingMetadata(key: "general.architecture")
        }
        guard Self.supportedArchitectures.contains(arch) else { throw TransformerError.unsupportedArchitecture(arch) }
        func int(_ key: String) throws -> Int {
            guard let v = gguf.metadata["\(arch).\(key)"]?.int else { throw TransformerError.missingMetadata(key: "\(arch).\(key)") }
            return v
        }
        func float(_ key: String, default value: Double) -> Float {
            Float(gguf.metadata["\(arch).\(key)"]?.float ?? value)
        }
        let heads = try int("attention.head_count")
        let dim = try int("embedding_length")
        guard heads > 0, dim % heads == 0 else {
            throw TransformerError.badHeadCount(key: "\(arch).attention.head_count", value: heads, mustDivide: dim,
                                                dividend: "\(arch).embedding_length")
        }
        let kvHeads = (try? int("attention.head_count_kv")) ?? heads
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw TransformerError.badHeadCount(key: "\(arch).attention.head_count_kv", value: kvHeads, mustDivide: heads,
                                                dividend: "\(arch).attention.head_count")
        }
        guard let embedding = gguf.tensor(named: "token_embd.weight") else { throw TransformerError.missingTensor("token_embd.weight") }
        let vocab = (try? int("vocab_size")) ?? embedding.rowCount
        self.init(
            architecture: arch,
            layerCount: try int("block_count"),
            modelDim: dim,
            ffnDim: try int("feed_forward_length"),
            headCount: heads,
            kvHeadCount: kvHeads,
            ropeDim: (try? int("rope.dimension_count")) ?? dim / heads,
            ropeBase: float("rope.freq_base", default: 10_000),
            ropeStyle: arch == "qwen2" ? .halves : .adjacent,
            normEpsilon: float("attention.layer_norm_rms_epsilon", default: 1e-5),
            contextLength: (try? int("context_length")) ?? 2048,
            vocabularySize: vocab,
            tiedOutput: gguf.tensor(named: "output.weight") == nil,
            hasQKVBias: gguf.tensor(named: "blk.0.attn_q.bias") != nil
        )
    }

    /// Parameter count (weights and norms, counting a tied embedding once).
    public var parameterCount: Int {
        let attention = modelDim * qDim + 2 * modelDim * kvDim + qDim * modelDim + (hasQKVBias ? qDim + 2 * kvDim : 0)
        let mlp = 3 * modelDim * ffnDim
        let norms = 2 * modelDim
        let embedding = vocabularySize * modelDim * (tiedOutput ? 1 : 2)
        return layerCount * (attention + mlp + norms) + modelDim + embedding
    }
}
