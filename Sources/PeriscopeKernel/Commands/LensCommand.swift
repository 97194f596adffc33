import Foundation
import Interpretability
import Rendering
import Transformer

/// `lens p [layers R] [positions S] [top K] [hook H] [tuned]`: the logit lens, or the tuned lens.
enum LensCommand {
    static let hooks = ["resid_post", "resid_pre", "resid_mid"]

    static let spec = CommandSpec(
        name: "lens",
        group: .lenses,
        synopsis: "lens p [layers R] [positions S] [top K] [hook H] [tuned]",
        description: "The logit lens: reads the residual stream (default `resid_post`) of each selected layer and position through the final norm and the unembedding, as if the model stopped there. Shows a heatmap, layers × positions, each cell the top-1 token coloured by its probability. With one position and `top` above 1, a table of the top-K tokens per layer instead. Layers and positions default to all. The data carries the top-K ids, tokens and probabilities of every cell. With `tuned`, each layer is first read through its affine translator to the last layer's `resid_post` (a tuned lens): fitted once per model file by ridge least squares on the built-in text sample (one forward pass per eight sentences, then one solve per layer) and kept in the model cache under `tuned/`, keyed by the file's SHA-256, so later sessions read it back.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("layers", .layers, summary: "which layers (default all)"),
            Parameter("positions", .positions, summary: "which token positions (default all)"),
            Parameter("top", .int, summary: "how many tokens per cell (default 1; 5 when one position is given)"),
            Parameter("hook", .choice(hooks, allowsInt: false), summary: "which residual stream: resid_post (default), resid_pre or resid_mid"),
            Parameter("tuned", .flag, summary: "read each layer through its tuned-lens translator first"),
        ],
        example: "lens \"The Eiffel Tower is in the city of\" layers 10..29 positions -3..-1",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let layers = try VerbArguments.layers(arguments, model: model)
            let positions = try VerbArguments.positions(arguments, "positions", prompt: prompt)
            let hook = arguments.word("hook") ?? "resid_post"
            let k = arguments.int("top") ?? (positions.count == 1 ? 5 : 1)
            let vocab = model.config.vocabularySize
            guard k >= 1, k <= min(vocab, 100) else {
                throw CommandError.outOfRange(what: "top", value: k, valid: "1..\(min(vocab, 100))", range: arguments.range(of: "top"))
            }
            let tuned = arguments.flag("tuned")
            if tuned, hook != "resid_post" {
                throw CommandError.tunedLensHook(hook, range: arguments.range(of: "hook"))
            }
            let cells = try CommandError.catching(at: arguments.headRange) {
                try compute(model: model, prompt: prompt, layers: layers, positions: positions, k: k, hook: hook, tuned: tuned,
                            session: context.session, task: context.task)
            }
            return render(cells, prompt: prompt, model: model, hook: tuned ? "tuned" : hook, k: k)
        })

    // MARK: - Data

    /// What the lens draws: the top-K tokens of every (layer, position).
    struct Cells {
        var layers: [Int]
        var positions: [Int]
        /// ids[layer index][position index][rank]
        var ids: [[[Int]]]
        /// probs[layer index][position index][rank]
        var probs: [[[Double]]]
    }

    /// Runs the logit lens (the prompt's cached activations are reused when present).
    static func compute(model: LoadedModel, prompt: PromptValue, layers: [Int], positions: [Int], k: Int, hook: String,
                        tuned: Bool = false, session: Session, task: TaskContext) throws -> Cells {
        let residual = HookSite(rawValue: hook) ?? .residPost
        if tuned {
            let lens = try session.tunedLenses.lens(for: model, task: task.stage(0, of: 2, label: "tuned lens"))
            let scores = try LogitLens.run(model: model.model, prompt: prompt.ids, layers: layers, positions: positions, top: k,
                                           tuned: lens, context: task.stage(1, of: 2, label: "read-out")).cells
            return Cells(layers: layers, positions: positions,
                         ids: scores.map { row in row.map { cell in cell.map(\.id) } },
                         probs: scores.map { row in row.map { cell in cell.map { Double($0.probability) } } })
        }
        let scores: [[[TokenScore]]]
        let key = ActivationKey(modelPath: model.path, tokens: prompt.ids)
        let cachedTensors = session.activations.lookup(key).map { run in layers.compactMap { run[residual.point($0)] } } ?? []
        if cachedTensors.count == layers.count {
            // `run p` already keeps the residual stream: only the read-out is left to do.
            let d = model.config.modelDim
            var states: [[Float]] = []
            states.reserveCapacity(layers.count * positions.count)
            for tensor in cachedTensors {
                for p in positions { states.append(Array(tensor.data[(p * d)..<((p + 1) * d)])) }
            }
            // One read-out: it chunks the unembedding itself, checking for an interrupt between chunks.
            let flat = try LogitLens.read(model: model.model, states: states, top: k, context: task)
            scores = layers.indices.map { i in Array(flat[(i * positions.count)..<((i + 1) * positions.count)]) }
        } else {
            scores = try LogitLens.run(model: model.model, prompt: prompt.ids, layers: layers, positions: positions, top: k,
                                       hook: residual, context: task).cells
        }
        return Cells(layers: layers, positions: positions,
                     ids: scores.map { row in row.map { cell in cell.map(\.id) } },
                     probs: scores.map { row in row.map { cell in cell.map { Double($0.probability) } } })
    }

    // MARK: - Rendering

    /// A heatmap (layers × positions, top-1 token and its probability), or with one position and
    /// K > 1 a table of the top-K per layer; the vnd JSON carries every cell's top-K.
    static func render(_ cells: Cells, prompt: PromptValue, model: LoadedModel, hook: String, k: Int) -> Value {
        let piece = { (id: Int) in model.tokenizer.piece(Int32(id)) }
        let topJSON: JSONOut = .object([
            ("ids", .array(cells.ids.map { row in .array(row.map { cell in .array(cell.map { .int($0) }) }) })),
            ("tokens", .array(cells.ids.map { row in .array(row.map { cell in .strings(cell.map(piece)) }) })),
            ("probs", .array(cells.probs.map { row in .array(row.map { .nums($0) }) })),
        ])
        let extra: [(String, JSONOut)] = [
            ("analysis", .string(hook == "tuned" ? "tuned_lens" : "logit_lens")),
            ("hook", .string(hook == "tuned" ? "resid_post" : hook)),
            ("layers", .array(cells.layers.map { .int($0) })),
            ("positions", .array(cells.positions.map { .int($0) })),
            ("k", .int(k)),
            ("top", topJSON),
            ("prompt", VerbResults.promptJSON(prompt)),
            ("model", .string(model.name)),
        ]
        let title = (hook == "tuned" ? "Tuned lens" : "Logit lens (\(hook))") + " — \(prompt.summary)"

        if cells.positions.count == 1, k > 1, let position = cells.positions.first {
            var columns: [Table.Column] = [.init("layer", alignment: .right)]
            for rank in 1...k { columns += [.init("#\(rank)"), .init("p", alignment: .right)] }
            let rows: [[Table.Cell]] = cells.layers.indices.map { i in
                var row: [Table.Cell] = [.number(Double(cells.layers[i]), .integer)]
                for rank in 0..<k {
                    let id = cells.ids[i][0][rank], p = cells.probs[i][0][rank]
                    row += [.token(piece(id), intensity: p), .number(p, .fixed(3))]
                }
                return row
            }
            let token = prompt.tokens.indices.contains(position) ? visibleToken(prompt.tokens[position]) : "?"
            let table = Table(title: title, columns: columns, rows: rows,
                              caption: "top \(k) tokens per layer at position \(position) (\(token)); probabilities after the final norm and unembedding",
                              kind: "logit_lens_top")
            return VerbResults.result(table.mimeBundle, json: table.json, extra: extra, typeName: "Table",
                                      summary: "logit lens top \(k) at position \(position) over \(cells.layers.count) layers")
        }

        let heatmap = Heatmap(
            title: title, xLabel: "position (token)", yLabel: "layer",
            rowLabels: VerbResults.layerLabels(cells.layers),
            columnLabels: cells.positions.map { "\($0) " + visibleToken(prompt.tokens[$0]) },
            values: cells.probs.map { row in row.map { $0.first ?? .nan } },
            cellText: cells.ids.map { row in row.map { visibleToken(piece($0.first ?? 0)) } },
            scale: .sequential, range: .fixed(0, 1), valueLabel: "p(top-1)", valueFormat: .fixed(2),
            kind: "logit_lens",
            cellDetails: k > 1 ? cells.ids.indices.map { i in cells.ids[i].indices.map { j in
                "top \(k): " + zip(cells.ids[i][j], cells.probs[i][j]).map { "\(visibleToken(piece($0))) \(NumberFormat.fixed(3).format($1))" }
                    .joined(separator: ", ")
            } } : nil)
        var bundle = heatmap.mimeBundle
        if k > 1 { bundle.data[MimeBundle.plain] = heatmap.plainText + "\n\n" + topTables(cells, prompt: prompt, k: k, piece: piece) }
        return VerbResults.result(bundle, json: heatmap.json, extra: extra, typeName: "Heatmap",
                                  summary: "logit lens, \(cells.layers.count) layers × \(cells.positions.count) positions")
    }

    /// The most positions whose top-K table text/plain shows (the last ones).
    static let topTablePositions = 8

    /// For `top K` over several positions: per position (the last few), a table of each layer's top K.
    static func topTables(_ cells: Cells, prompt: PromptValue, k: Int, piece: (Int) -> String) -> String {
        let shown = Array(cells.positions.indices.suffix(topTablePositions))
        var parts: [String] = []
        for j in shown {
            let position = cells.positions[j]
            var columns: [Table.Column] = [.init("layer", alignment: .right)]
            for rank in 1...k { columns += [.init("#\(rank)"), .init("p", alignment: .right)] }
            let rows: [[Table.Cell]] = cells.layers.indices.map { i in
                var row: [Table.Cell] = [.number(Double(cells.layers[i]), .integer)]
                for rank in 0..<min(k, cells.ids[i][j].count) {
                    row += [.token(piece(cells.ids[i][j][rank])), .number(cells.probs[i][j][rank], .fixed(3))]
                }
                return row
            }
            let token = prompt.tokens.indices.contains(position) ? visibleToken(prompt.tokens[position]) : "?"
            parts.append(Table(title: "top \(k) at position \(position) (\(token))", columns: columns, rows: rows).plainText)
        }
        if cells.positions.count > shown.count {
            parts.append("(top-\(k) tables for the last \(shown.count) of \(cells.positions.count) positions; every cell's top \(k) is in its tooltip and the JSON)")
        }
        return parts.joined(separator: "\n\n")
    }
}
