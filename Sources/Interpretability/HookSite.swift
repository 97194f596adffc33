import Transformer

/// A per-position `d_model` site of a block that an analysis reads or writes: the residual stream
/// before the block, between attention and MLP, after it, or the attention and MLP outputs added
/// to it (TransformerLens `hook_resid_pre`, `hook_resid_mid`, `hook_resid_post`, `hook_attn_out`,
/// `hook_mlp_out`). The logit lens reads the residual sites; patching and causal tracing restore
/// any of them.
public enum HookSite: String, Sendable, CaseIterable {
    case residPre = "resid_pre"
    case residMid = "resid_mid"
    case residPost = "resid_post"
    case attnOut = "attn_out"
    case mlpOut = "mlp_out"

    /// The hook point of this site in block `layer`.
    public func point(_ layer: Int) -> HookPoint {
        switch self {
        case .residPre: return .residPre(layer)
        case .residMid: return .residMid(layer)
        case .residPost: return .residPost(layer)
        case .attnOut: return .attnOut(layer)
        case .mlpOut: return .mlpOut(layer)
        }
    }
}
