import Rendering
import Transformer

/// `hooks [layer L]`: the hook point names of the current model with their shapes.
enum HooksCommand {
    static let spec = CommandSpec(
        name: "hooks",
        group: .models,
        synopsis: "hooks [layer L]",
        description: "Lists the hook points of the current model with their shapes. Names are TransformerLens names; a shape is that of a prompt's activations there, position first (`pos` is the prompt's token count; `export` writes exactly this shape). Without `layer`, one block's names are shown with `{l}`; `layer L` lists the concrete names of those layers. On a model run by llama.cpp (`load … on`), a fourth column gives the llama.cpp tensor each point reads and writes, or why it cannot be reached.",
        keywords: [Parameter("layer", .layers, summary: "the block(s) to list")],
        example: "hooks layer 3",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            let config = model.config
            var rows: [[Table.Cell]] = []
            var names: [String] = []
            var shapes: [[String]] = []
            var tensors: [String?] = []
            let backend = model.model.backend
            func add(_ name: String, _ point: HookPoint, _ note: String, template: ((Int) -> HookPoint)? = nil) {
                let shape = ["pos"] + shapeWords(point, config: config)
                var row: [Table.Cell] = [.text(name), .text("[" + shape.joined(separator: ", ") + "]"), .text(note)]
                if let backend {
                    let tensor = template.map { templateTensorName($0, backend: backend) } ?? backend.tensorName(for: point)
                    row.append(.text(tensor ?? "—"))
                    tensors.append(tensor)
                }
                rows.append(row)
                names.append(name)
                shapes.append(shape)
            }
            let layers = try arguments.layers("layer")?.resolve(layerCount: config.layerCount)
            if layers == nil {
                add("hook_embed", .embed, "token embeddings")
            }
            if let layers {
                for l in layers {
                    for (suffix, make, note) in blockHooks where make(l).exists(in: config) { add("blocks.\(l).\(suffix)", make(l), note) }
                }
            } else {
                for (suffix, make, note) in blockHooks where make(0).exists(in: config) {
                    add("blocks.{l}.\(suffix)", make(0), note, template: make)
                }
            }
            if layers == nil {
                add("ln_final.hook_normalized", .lnFinalNormalized, "final RMSNorm output (before the unembedding)")
            }
            let caption = layers == nil
                ? "{l} is a block, 0..\(config.layerCount - 1); pos is the number of prompt tokens; \(config.headCount) query heads and \(config.kvHeadCount) key/value heads of \(config.headDim)"
                : "pos is the number of prompt tokens"
            var columns: [Table.Column] = [.init("name"), .init("shape"), .init("what")]
            if let backend { columns.append(.init("llama.cpp tensor")) }
            let runsOn = backend.map { "; run by llama.cpp (\($0.placement)): the points marked — need the model loaded without `on`" } ?? ""
            let table = Table(title: "Hook points of \(model.name)", columns: columns,
                              rows: rows, caption: caption + runsOn, kind: "hooks")
            var bundle = table.mimeBundle
            var extra: [(String, JSONOut)] = [("names", .strings(names)), ("shapes", .array(shapes.map { .strings($0) }))]
            if backend != nil { extra.append(("tensors", .array(tensors.map { $0.map(JSONOut.string) ?? .null }))) }
            bundle.json = appending(table.json, extra)
            return .result(RenderedResult(typeName: "Table", summary: "hook points (\(rows.count))", bundle: bundle))
        })

    /// The per-block hooks in forward order with a short explanation.
    static let blockHooks: [(String, @Sendable (Int) -> HookPoint, String)] = [
        ("hook_resid_pre", HookPoint.residPre, "residual stream entering the block"),
        ("ln1.hook_normalized", HookPoint.ln1Normalized, "RMSNorm before attention"),
        ("attn.hook_q", HookPoint.q, "queries per head (before RoPE)"),
        ("attn.hook_k", HookPoint.k, "keys per key/value head (before RoPE)"),
        ("attn.hook_v", HookPoint.v, "values per key/value head"),
        ("attn.hook_attn_scores", HookPoint.attnScores, "scaled scores per head over keys, masked = -inf"),
        ("attn.hook_pattern", HookPoint.pattern, "attention probabilities per head over keys"),
        ("attn.hook_z", HookPoint.z, "pattern · values, per head"),
        ("ln1_post.hook_normalized", HookPoint.ln1PostNormalized, "RMSNorm after attention (its output is hook_attn_out)"),
        ("hook_attn_out", HookPoint.attnOut, "attention output added to the stream"),
        ("hook_resid_mid", HookPoint.residMid, "residual stream between attention and MLP"),
        ("ln2.hook_normalized", HookPoint.ln2Normalized, "RMSNorm before the MLP"),
        ("mlp.hook_pre", HookPoint.mlpPre, "gate pre-activation"),
        ("mlp.hook_post", HookPoint.mlpPost, "act(gate) ⊙ up (silu, or Gemma's tanh GELU)"),
        ("ln2_post.hook_normalized", HookPoint.ln2PostNormalized, "RMSNorm after the MLP (its output is hook_mlp_out)"),
        ("hook_mlp_out", HookPoint.mlpOut, "MLP output added to the stream"),
        ("hook_resid_post", HookPoint.residPost, "residual stream leaving the block"),
    ]

    /// The backend tensor of a `{l}` row, from its names at blocks 0 and 1: `l_out-{l}`, or
    /// `l_out-{l-1}` for a point that reads the block before (with block 0's own name).
    static func templateTensorName(_ make: (Int) -> HookPoint, backend: ForwardBackend) -> String? {
        guard let name = backend.tensorName(for: make(1)), let dash = name.lastIndex(of: "-") else {
            return backend.tensorName(for: make(0))
        }
        let stem = String(name[..<dash])
        switch name[name.index(after: dash)...] {
        case "1": return stem + "-{l}"
        case "0": return stem + "-{l-1}" + (backend.tensorName(for: make(0)).map { ", block 0: " + $0 } ?? " (from block 1)")
        default: return name
        }
    }

    /// One position's shape in words: `576`, `9, 64`, `9, pos`.
    static func shapeWords(_ point: HookPoint, config: ModelConfig) -> [String] {
        switch point {
        case .attnScores, .pattern: return ["\(config.headCount)", "pos"]
        default: return point.shape(config: config, keys: 0).map(String.init)
        }
    }
}
