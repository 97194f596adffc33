import Foundation
import GGUF
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `v = direction POS minus NEG layer L [position last|mean]`: a difference-of-means direction.
enum DirectionCommand {
    static let spec = CommandSpec(
        name: "direction",
        group: .analysis,
        synopsis: "direction POS minus NEG layer L [position last|mean]",
        description: "A steering direction: the mean of the positive prompts' `resid_post` at block L minus the mean of the negative prompts', each prompt read at its last token (default) or averaged over its tokens (`position mean`). POS and NEG are prompts or lists of prompts. Returns a Vector for `steer`, `similarity` and `export v to \"file.gguf\"`.",
        positionals: [Parameter("POS", .prompts, required: true, summary: "the positive prompt(s)")],
        keywords: [
            Parameter("minus", .prompts, required: true, summary: "the negative prompt(s)"),
            Parameter("layer", .int, required: true, summary: "the block whose resid_post is read"),
            Parameter("position", .choice(["last", "mean"], allowsInt: false), summary: "read the last token (default) or the mean over tokens"),
        ],
        example: "v = direction [\"Love\", \"I adore you\"] minus [\"Hate\", \"I despise you\"] layer 6",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            let positive = try AnalysisVerbs.prompts(arguments, "POS", session: context.session, model: model)
            let negative = try AnalysisVerbs.prompts(arguments, "minus", session: context.session, model: model)
            guard let layer = try InterpVerbs.layer(arguments, "layer", model: model) else { return nil }
            let reduction: PositionReduction = arguments.word("position") == "mean" ? .mean : .last
            let label = "\(AnalysisVerbs.shortList(positive)) − \(AnalysisVerbs.shortList(negative)) @ layer \(layer)"
            let vector = try AnalysisVerbs.run(range: arguments.headRange) {
                try Direction.meanDifference(model: model.model, positive: positive.map(\.ids), negative: negative.map(\.ids),
                                             layer: layer, reduction: reduction, label: label, context: context.task)
            }
            return .object(VectorValue(vector: vector, modelName: model.name, modelPath: model.path,
                                       architecture: model.config.architecture, positive: positive.map(\.text), negative: negative.map(\.text), reduction: reduction))
        })
}

// MARK: - Vector value

/// A direction in a model's residual stream, as the session holds it.
struct VectorValue: ValueContent {
    var vector: SteeringVector
    var modelName: String
    var modelPath: String
    /// The model's architecture (`llama`), written as the control vector's model hint.
    var architecture: String
    var positive: [String]
    var negative: [String]
    var reduction: PositionReduction

    var typeName: String { "Vector" }
    var summary: String { "Vector \(vector.label) (\(vector.values.count) numbers, norm \(NumberFormat.general.format(vector.norm)))" }

    func render() -> MimeBundle {
        let head = vector.values.prefix(6).map { NumberFormat.fixed(3).format(Double($0)) }.joined(separator: ", ")
        let card = Card(title: "Vector " + vector.label, [
            ("model", modelName), ("hook", HookPoint.residPost(vector.layer).name),
            ("read at", reduction == .last ? "last token" : "mean over tokens"),
            ("positive", AnalysisVerbs.quotedList(positive)), ("negative", AnalysisVerbs.quotedList(negative)),
            ("size", "\(vector.values.count) numbers"), ("norm", NumberFormat.fixed(3).format(vector.norm)),
            ("values", "[\(head), …]"),
        ], kind: "vector")
        var bundle = card.mimeBundle
        bundle.data[MimeBundle.periscopeJSON] = appending(card.json, [
            ("label", .string(vector.label)), ("layer", .int(vector.layer)), ("hook", .string(HookPoint.residPost(vector.layer).name)),
            ("model", .string(modelName)), ("position", .string(reduction.rawValue)),
            ("positive", .strings(positive)), ("negative", .strings(negative)),
            ("norm", .num(vector.norm)), ("values", .nums(vector.values.map(Double.init))),
        ]).serialized()
        return bundle
    }
}

// MARK: - llama.cpp control vector

extension VectorValue {
    /// Writes the vector as a llama.cpp control vector: GGUF with `general.architecture =
    /// controlvector`, `controlvector.model_hint` (the architecture), `controlvector.layer_count` and
    /// one F32 tensor `direction.{L+1}` (llama.cpp numbers control-vector layers from 1, so the
    /// output of block L is direction L+1), usable with `llama-cli --control-vector file.gguf`.
    func writeControlVector(to path: String) throws {
        var writer = GGUFWriter(architecture: "controlvector")
        writer.add("controlvector.model_hint", .string(architecture))
        writer.add("controlvector.layer_count", .uint32(1))
        writer.addTensor(name: "direction.\(vector.layer + 1)", dims: [vector.values.count], values: vector.values)
        try writer.write(to: path)
    }

    /// `export v to "file.gguf"`: registered in `ExportCommand.otherExporters` under "Vector".
    static let exporter: @Sendable (Value, BoundArguments, CommandContext) throws -> Value? = { value, arguments, _ in
        guard case .object(let vector as VectorValue) = value else { return nil }
        return try vector.export(arguments: arguments)
    }

    /// Writes the control vector named by `to` and describes it.
    func export(arguments: BoundArguments) throws -> Value {
        if arguments.has("hook") {
            throw CommandError.failed("A Vector is exported whole; drop `hook` (it is for exporting a prompt's activations).",
                                      range: arguments.range(of: "hook"))
        }
        let destination = arguments.string("to") ?? ""
        guard destination.lowercased().hasSuffix(".gguf") else {
            throw CommandError.failed("A Vector is exported as a llama.cpp control vector; end the file name with .gguf, e.g. \"love.gguf\".",
                                      range: arguments.range(of: "to"))
        }
        let path = ModelCatalog.canonicalPath(destination)
        do {
            try writeControlVector(to: path)
        } catch {
            throw CommandError.failed("Cannot write the control vector to \(path): \(error)", range: arguments.range(of: "to"))
        }
        let tensor = "direction.\(vector.layer + 1)"
        let card = Card(title: "Exported control vector", [
            ("vector", vector.label), ("file", path), ("tensor", "\(tensor) [\(vector.values.count)] float32"),
            ("model hint", architecture), ("use", "llama-cli -m model.gguf --control-vector \((path as NSString).lastPathComponent)"),
        ], kind: "export")
        var bundle = card.mimeBundle
        bundle.data[MimeBundle.periscopeJSON] = appending(card.json, [
            ("path", .string(path)), ("tensor", .string(tensor)), ("layer", .int(vector.layer)),
            ("model_hint", .string(architecture)), ("size", .int(vector.values.count)),
        ]).serialized()
        return .result(RenderedResult(typeName: "Export", summary: "control vector \(tensor) → \(path)", bundle: bundle))
    }
}

// MARK: - Shared helpers of the analysis verbs

enum AnalysisVerbs {
    /// The prompts of a `.prompts` argument (one prompt or a list), tokenised for `model`.
    static func prompts(_ arguments: BoundArguments, _ name: String, session: Session, model: LoadedModel) throws -> [PromptValue] {
        guard let value = arguments.value(name) else { return [] }
        let range = arguments.range(of: name)
        if case .list(let items) = value {
            guard !items.isEmpty else {
                throw CommandError.failed("`\(name)` is an empty list; give at least one prompt.", range: range)
            }
            return try items.map { try session.prompt(from: $0, model: model, range: range) }
        }
        return [try session.prompt(from: value, model: model, range: range)]
    }

    /// Runs model-side work, turning its errors into cell errors at `range` (interrupts stay interrupts).
    static func run<T>(range: SourceRange?, _ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch let error as AnalysisError {
            throw CommandError.failed(error.description, range: range)
        } catch let error as DatasetError {
            throw CommandError.failed(error.description, range: range)
        } catch is CancelledError {
            throw CommandError.interrupted
        }
    }

    /// `"Love"` or `"Love" +2` for labels.
    static func shortList(_ prompts: [PromptValue]) -> String {
        guard let first = prompts.first else { return "[]" }
        let text = first.text.count > 24 ? String(first.text.prefix(21)) + "…" : first.text
        return quoted(text) + (prompts.count > 1 ? " +\(prompts.count - 1)" : "")
    }

    /// Texts quoted and joined, cut after a few.
    static func quotedList(_ texts: [String]) -> String {
        let shown = texts.prefix(4).map { quoted($0.count > 40 ? String($0.prefix(37)) + "…" : $0) }
        return shown.joined(separator: ", ") + (texts.count > 4 ? ", … (\(texts.count) in all)" : "")
    }

    /// The Vector a `.typed("Vector")` argument holds.
    static func vector(_ arguments: BoundArguments, _ name: String) throws -> VectorValue? {
        guard let value = arguments.value(name) else { return nil }
        guard case .object(let content as VectorValue) = value else {
            throw CommandError.typeMismatch(parameter: name, verb: arguments.verb, expected: "a Vector (made by `direction`)",
                                            given: withArticle(value.typeName), range: arguments.range(of: name))
        }
        return content
    }

    /// Checks that a vector fits `model` (same width), with a sentence saying what to do otherwise.
    static func check(_ v: VectorValue, fits model: LoadedModel, range: SourceRange?) throws {
        guard v.vector.values.count == model.config.modelDim else {
            throw CommandError.failed("The vector has \(v.vector.values.count) numbers but \(model.name)'s residual stream has \(model.config.modelDim); make the vector with `direction` on this model.", range: range)
        }
    }

    /// A non-negative seed argument (default 0).
    static func seed(_ arguments: BoundArguments) throws -> UInt64 {
        let seed = arguments.int("seed") ?? 0
        guard seed >= 0 else {
            throw CommandError.outOfRange(what: "seed", value: seed, valid: "0 or more", range: arguments.range(of: "seed"))
        }
        return UInt64(seed)
    }

    /// A bundle of several parts as one rendered result.
    static func result(_ typeName: String, _ summary: String, _ parts: [MimeBundle]) -> Value {
        .result(RenderedResult(typeName: typeName, summary: summary, bundle: MimeBundle.combining(parts)))
    }
}
