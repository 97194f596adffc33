// MARK: - Hook points
//
// The one way into a running forward pass (docs/architecture.md). Each point is a named site in
// `Model.forward`, with its TransformerLens name and the shape it sees per token position.

/// A named site in the forward pass where hooks may read or rewrite the activations.
public enum HookPoint: Hashable, Sendable, CustomStringConvertible {
    case embed                  // hook_embed                       [d_model]
    case residPre(Int)          // blocks.l.hook_resid_pre          [d_model]
    case ln1Normalized(Int)     // blocks.l.ln1.hook_normalized     [d_model]
    case q(Int)                 // blocks.l.attn.hook_q             [H, d_head]      (before RoPE; Gemma: after the q norm)
    case k(Int)                 // blocks.l.attn.hook_k             [H_kv, d_head]   (before RoPE; Gemma: after the k norm)
    case v(Int)                 // blocks.l.attn.hook_v             [H_kv, d_head]
    case attnScores(Int)        // blocks.l.attn.hook_attn_scores   [H, keys]  scaled, masked = -inf
    case pattern(Int)           // blocks.l.attn.hook_pattern       [H, keys]  softmax of the scores
    case z(Int)                 // blocks.l.attn.hook_z             [H, d_head]      pattern · V
    case ln1PostNormalized(Int) // blocks.l.ln1_post.hook_normalized [d_model] Gemma: post-attention RMSNorm output
    case attnOut(Int)           // blocks.l.hook_attn_out           [d_model]  what is added to the stream
    case residMid(Int)          // blocks.l.hook_resid_mid          [d_model]
    case ln2Normalized(Int)     // blocks.l.ln2.hook_normalized     [d_model]
    case mlpPre(Int)            // blocks.l.mlp.hook_pre            [d_ff]  gate pre-activation
    case mlpPost(Int)           // blocks.l.mlp.hook_post           [d_ff]  act(gate) ⊙ up
    case ln2PostNormalized(Int) // blocks.l.ln2_post.hook_normalized [d_model] Gemma: post-MLP RMSNorm output
    case mlpOut(Int)            // blocks.l.hook_mlp_out            [d_model]  what is added to the stream
    case residPost(Int)         // blocks.l.hook_resid_post         [d_model]
    case lnFinalNormalized      // ln_final.hook_normalized         [d_model]

    /// The block this point belongs to, or nil for `embed` and `lnFinalNormalized`.
    public var layer: Int? {
        switch self {
        case .embed, .lnFinalNormalized: return nil
        case .residPre(let l), .ln1Normalized(let l), .q(let l), .k(let l), .v(let l), .attnScores(let l),
             .pattern(let l), .z(let l), .attnOut(let l), .residMid(let l), .ln2Normalized(let l),
             .mlpPre(let l), .mlpPost(let l), .mlpOut(let l), .residPost(let l),
             .ln1PostNormalized(let l), .ln2PostNormalized(let l):
            return l
        }
    }

    /// The TransformerLens name, e.g. `blocks.3.hook_resid_pre`.
    public var name: String {
        switch self {
        case .embed: return "hook_embed"
        case .lnFinalNormalized: return "ln_final.hook_normalized"
        default:
            guard let l = layer else { return "" }
            return "blocks.\(l).\(suffix)"
        }
    }

    public var description: String { name }

    /// The name after `blocks.{l}.`.
    private var suffix: String {
        switch self {
        case .residPre: return "hook_resid_pre"
        case .ln1Normalized: return "ln1.hook_normalized"
        case .q: return "attn.hook_q"
        case .k: return "attn.hook_k"
        case .v: return "attn.hook_v"
        case .attnScores: return "attn.hook_attn_scores"
        case .pattern: return "attn.hook_pattern"
        case .z: return "attn.hook_z"
        case .ln1PostNormalized: return "ln1_post.hook_normalized"
        case .attnOut: return "hook_attn_out"
        case .residMid: return "hook_resid_mid"
        case .ln2Normalized: return "ln2.hook_normalized"
        case .mlpPre: return "mlp.hook_pre"
        case .mlpPost: return "mlp.hook_post"
        case .ln2PostNormalized: return "ln2_post.hook_normalized"
        case .mlpOut: return "hook_mlp_out"
        case .residPost: return "hook_resid_post"
        case .embed, .lnFinalNormalized: return ""
        }
    }

    /// Every per-block point in forward order; `postNorm` marks those only blocks with post-norms (Gemma) have.
    private static var blockPoints: [(name: String, make: (Int) -> HookPoint, postNorm: Bool)] { [
        ("hook_resid_pre", HookPoint.residPre, false), ("ln1.hook_normalized", HookPoint.ln1Normalized, false),
        ("attn.hook_q", HookPoint.q, false), ("attn.hook_k", HookPoint.k, false), ("attn.hook_v", HookPoint.v, false),
        ("attn.hook_attn_scores", HookPoint.attnScores, false), ("attn.hook_pattern", HookPoint.pattern, false),
        ("attn.hook_z", HookPoint.z, false), ("ln1_post.hook_normalized", HookPoint.ln1PostNormalized, true),
        ("hook_attn_out", HookPoint.attnOut, false), ("hook_resid_mid", HookPoint.residMid, false),
        ("ln2.hook_normalized", HookPoint.ln2Normalized, false), ("mlp.hook_pre", HookPoint.mlpPre, false),
        ("mlp.hook_post", HookPoint.mlpPost, false), ("ln2_post.hook_normalized", HookPoint.ln2PostNormalized, true),
        ("hook_mlp_out", HookPoint.mlpOut, false), ("hook_resid_post", HookPoint.residPost, false),
    ] }

    /// The per-block suffixes in forward order (`hook_resid_pre`, `ln1.hook_normalized`, …).
    public static func blockSuffixes(postNorms: Bool = false) -> [String] {
        blockPoints.filter { postNorms || !$0.postNorm }.map(\.name)
    }

    /// Whether this point exists in every block kind (false for Gemma's post-norms).
    public var isInEveryBlock: Bool {
        switch self {
        case .ln1PostNormalized, .ln2PostNormalized: return false
        default: return true
        }
    }

    /// Whether a model with `config` has this point (its layer in range, its block kind's points).
    public func exists(in config: ModelConfig) -> Bool {
        if let l = layer, l < 0 || l >= config.layerCount { return false }
        return isInEveryBlock || config.block == .gemma3
    }

    /// Parses a TransformerLens name (`blocks.3.hook_resid_pre`, `hook_embed`, `ln_final.hook_normalized`).
    public init?(name: String) {
        if name == "hook_embed" { self = .embed; return }
        if name == "ln_final.hook_normalized" { self = .lnFinalNormalized; return }
        let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blocks", let l = Int(parts[1]), l >= 0,
              let make = Self.blockPoints.first(where: { $0.name == parts[2] })?.make else { return nil }
        self = make(l)
    }

    /// Every hook point of a model with `layers` blocks, in forward order (`postNorms`: with
    /// Gemma's `ln1_post`/`ln2_post`).
    public static func all(layers: Int, postNorms: Bool = false) -> [HookPoint] {
        let block = blockPoints.filter { postNorms || !$0.postNorm }
        return [.embed] + (0..<layers).flatMap { l in block.map { $0.make(l) } } + [.lnFinalNormalized]
    }

    /// Every hook point of a model with `config`, in forward order.
    public static func all(config: ModelConfig) -> [HookPoint] {
        all(layers: config.layerCount, postNorms: config.block == .gemma3)
    }

    /// The shape of this point's activation at one position. `keys` is the attention width
    /// (cached plus new positions) for `attnScores`/`pattern`.
    public func shape(config: ModelConfig, keys: Int) -> [Int] {
        switch self {
        case .embed, .residPre, .ln1Normalized, .attnOut, .residMid, .ln2Normalized, .mlpOut, .residPost, .lnFinalNormalized,
             .ln1PostNormalized, .ln2PostNormalized:
            return [config.modelDim]
        case .q, .z: return [config.headCount, config.headDim]
        case .k, .v: return [config.kvHeadCount, config.headDim]
        case .attnScores, .pattern: return [config.headCount, keys]
        case .mlpPre, .mlpPost: return [config.ffnDim]
        }
    }

    /// A readable shape for listings, e.g. "[9, 64]" or "[9, keys]".
    public func shapeDescription(config: ModelConfig) -> String {
        switch self {
        case .attnScores, .pattern: return "[\(config.headCount), keys]"
        default: return "[" + shape(config: config, keys: 0).map(String.init).joined(separator: ", ") + "]"
        }
    }
}
