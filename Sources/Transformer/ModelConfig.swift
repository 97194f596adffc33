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

/// The MLP's gate nonlinearity.
public enum Activation: Sendable, Equatable {
    /// silu(gate) ⊙ up (SwiGLU, llama family).
    case silu
    /// gelu_tanh(gate) ⊙ up (GeGLU with the tanh approximation, Gemma).
    case geluTanh
}

/// The transformer block a model runs: each is its own function in the forward pass.
public enum BlockKind: Sendable, Equatable {
    /// Pre-norm attention and MLP (llama, mistral, qwen2).
    case llama
    /// Pre- and post-norms around attention and MLP, per-head RMSNorm on queries and keys (Gemma 3).
    case gemma3
}

/// The hyper-parameters of a model, read from GGUF metadata (`{arch}.*` keys). What differs
/// between architectures is data here; the block function reads it.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var block: BlockKind
    public var layerCount: Int        // L, `{arch}.block_count`
    public var modelDim: Int          // d_model, `{arch}.embedding_length`
    public var ffnDim: Int            // d_ff, `{arch}.feed_forward_length`
    public var headCount: Int         // H, `{arch}.attention.head_count`
    public var kvHeadCount: Int       // H_kv, `{arch}.attention.head_count_kv` (grouped-query attention)
    public var headDim: Int           // d_head, `{arch}.attention.key_length`, else d_model / H
    public var ropeDim: Int           // rotated dims per head, `{arch}.rope.dimension_count`, else d_head
    public var ropeBase: Float        // `{arch}.rope.freq_base` (the global layers' base)
    public var ropeStyle: RopeStyle
    public var normEpsilon: Float     // `{arch}.attention.layer_norm_rms_epsilon`
    public var contextLength: Int     // `{arch}.context_length`
    public var vocabularySize: Int    // rows of token_embd
    public var tiedOutput: Bool       // no `output.weight`: the unembedding is the token embedding
    public var hasQKVBias: Bool       // qwen2
    public var activation: Activation
    /// Multiplies the token embeddings: 1, or √d_model for Gemma (in float32, the reference's dtype).
    public var embeddingScale: Float
    /// Multiplies q·k: 1/√d_head, or Gemma's query_pre_attn_scalar^-½.
    public var attentionScale: Float
    /// Keys a local layer's query sees (itself and the window − 1 before it), or nil: every layer is global.
    public var slidingWindow: Int?
    /// Every `globalLayerPeriod`-th layer (l + 1 a multiple of it) attends to every key; the others
    /// use the sliding window. 1 makes every layer global.
    public var globalLayerPeriod: Int
    /// RoPE base of the local (sliding-window) layers, or nil: the same as the global layers'.
    public var localRopeBase: Float?

    /// Query heads per key/value head.
    public var groupSize: Int { headCount / kvHeadCount }
    /// Width of all key (or value) heads together.
    public var kvDim: Int { kvHeadCount * headDim }
    /// Width of all query heads together.
    public var qDim: Int { headCount * headDim }

    /// Whether layer `l` attends through the sliding window.
    public func isLocal(layer l: Int) -> Bool {
        slidingWindow != nil && (l + 1) % max(globalLayerPeriod, 1) != 0
    }

    /// The first key position a query at absolute position `t` of layer `l` sees.
    @inline(__always)
    public func firstVisibleKey(layer l: Int, query t: Int) -> Int {
        guard let window = slidingWindow, isLocal(layer: l) else { return 0 }
        return max(0, t - window + 1)
    }

    public init(architecture: String, layerCount: Int, modelDim: Int, ffnDim: Int, headCount: Int,
                kvHeadCount: Int, headDim: Int? = nil, ropeDim: Int? = nil, ropeBase: Float = 10_000,
                ropeStyle: RopeStyle = .adjacent, normEpsilon: Float = 1e-5, contextLength: Int = 2048,
                vocabularySize: Int, tiedOutput: Bool, hasQKVBias: Bool = false, block: BlockKind = .llama,
                activation: Activation = .silu, embeddingScale: Float = 1, attentionScale: Float? = nil,
                slidingWindow: Int? = nil, globalLayerPeriod: Int = 1, localRopeBase: Float? = nil) {
        self.architecture = architecture
        self.block = block
        self.layerCount = layerCount
        self.modelDim = modelDim
        self.ffnDim = ffnDim
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        let hd = headDim ?? modelDim / headCount
        self.headDim = hd
        self.ropeDim = ropeDim ?? hd
        self.ropeBase = ropeBase
        self.ropeStyle = ropeStyle
        self.normEpsilon = normEpsilon
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
        self.tiedOutput = tiedOutput
        self.hasQKVBias = hasQKVBias
        self.activation = activation
        self.embeddingScale = embeddingScale
        self.attentionScale = attentionScale ?? 1 / Float(hd).squareRoot()
        self.slidingWindow = slidingWindow
        self.globalLayerPeriod = globalLayerPeriod
        self.localRopeBase = localRopeBase
    }

    /// The architectures whose GGUF layout and forward pass this target implements.
    public static let supportedArchitectures: Set<String> = ["llama", "mistral", "qwen2", "gemma3"]

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
        // Gemma's heads are wider than d_model / H: the file says so with key_length.
        let keyLength = try? int("attention.key_length")
        guard heads > 0, keyLength != nil || dim % heads == 0 else {
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
        let gemma = arch == "gemma3"
        let headDim = keyLength ?? dim / heads
        self.init(
            architecture: arch,
            layerCount: try int("block_count"),
            modelDim: dim,
            ffnDim: try int("feed_forward_length"),
            headCount: heads,
            kvHeadCount: kvHeads,
            headDim: headDim,
            ropeDim: (try? int("rope.dimension_count")) ?? headDim,
            ropeBase: float("rope.freq_base", default: 10_000),
            // llama.cpp's converter permutes llama/mistral Q and K for adjacent pairs; qwen2 and
            // Gemma keep Hugging Face's layout, whose rotate-half pairs the halves.
            ropeStyle: arch == "llama" || arch == "mistral" ? .adjacent : .halves,
            normEpsilon: float("attention.layer_norm_rms_epsilon", default: gemma ? 1e-6 : 1e-5),
            contextLength: (try? int("context_length")) ?? 2048,
            vocabularySize: vocab,
            tiedOutput: gguf.tensor(named: "output.weight") == nil,
            hasQKVBias: gguf.tensor(named: "blk.0.attn_q.bias") != nil,
            block: gemma ? .gemma3 : .llama,
            activation: gemma ? .geluTanh : .silu,
            // Gemma scales embeddings by √d_model; its queries by query_pre_attn_scalar^-½, which
            // the GGUF file does not carry: it is d_head for every Gemma 3 but the 27B (as llama.cpp reads it).
            embeddingScale: gemma ? Float(dim).squareRoot() : 1,
            attentionScale: 1 / Float(headDim).squareRoot(),
            // Gemma 3: five sliding-window layers, then one global, with base 10⁴ on the local layers
            // (neither is in the file; transformers' Gemma3TextConfig and llama.cpp both fix them).
            slidingWindow: gemma ? (try? int("attention.sliding_window")) : nil,
            globalLayerPeriod: gemma ? 6 : 1,
            localRopeBase: gemma ? 10_000 : nil
        )
    }

    /// Parameter count (weights and norms, counting a tied embedding once).
    public var parameterCount: Int {
        let attention = modelDim * qDim + 2 * modelDim * kvDim + qDim * modelDim + (hasQKVBias ? qDim + 2 * kvDim : 0)
            + (block == .gemma3 ? 2 * headDim : 0)
        let mlp = 3 * modelDim * ffnDim
        let norms = (block == .gemma3 ? 4 : 2) * modelDim
        let embedding = vocabularySize * modelDim * (tiedOutput ? 1 : 2)
        return layerCount * (attention + mlp + norms) + modelDim + embedding
    }
}
