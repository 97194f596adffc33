import Foundation
import GGUF
import Interpretability
import Rendering
import Transformer

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
    /// Sentences qualifying the vector (states read at the attention sink), shown with it.
    var notes: [String] = []
    /// A short phrase when the vector was made from sink states, for the results that use it.
    var sinkNote: String?
    /// What the vector is when it is not a difference of means (e.g. a probe's weights).
    var source: String?

    var typeName: String { "Vector" }
    var summary: String { "Vector \(vector.label) (\(vector.values.count) numbers, norm \(NumberFormat.general.format(vector.norm)))" }

    func render() -> MimeBundle {
        let head = vector.values.prefix(6).map { NumberFormat.fixed(3).format(Double($0)) }.joined(separator: ", ")
        let card = Card(title: "Vector " + vector.label, [
            ("model", modelName), ("hook", HookPoint.residPost(vector.layer).name),
            ("made from", source ?? "mean of the positive prompts' states minus the negative ones'"),
            ("read at", reduction == .last ? "last token" : "mean over tokens"),
            ("positive", VerbResults.quotedList(positive)), ("negative", VerbResults.quotedList(negative)),
            ("size", "\(vector.values.count) numbers"), ("norm", NumberFormat.fixed(3).format(vector.norm)),
            ("values", "[\(head), …]"),
        ], kind: "vector")
        var bundle = card.mimeBundle
        bundle.json = appending(card.json, [
            ("label", .string(vector.label)), ("layer", .int(vector.layer)), ("hook", .string(HookPoint.residPost(vector.layer).name)),
            ("model", .string(modelName)), ("position", .string(reduction.rawValue)),
            ("positive", .strings(positive)), ("negative", .strings(negative)),
            ("norm", .num(vector.norm)), ("values", .nums(vector.values.map(Double.init))),
        ])
        return bundle.noting(notes)
    }
}

// MARK: - llama.cpp control vector

extension VectorValue {
    /// Writes the vector as a llama.cpp control vector: GGUF with `general.architecture =
    /// controlvector`, `controlvector.model_hint` (the architecture), `controlvector.layer_count` and
    /// one F32 tensor `direction.{L}`, usable with `llama-cli --control-vector file.gguf`.
    /// llama.cpp adds `direction.N` to `l_out-N`, the output of block N counted from 0, which is
    /// `blocks.N.hook_resid_post`; it has no slot for block 0 (its loader rejects `direction.0`).
    func writeControlVector(to path: String) throws {
        var writer = GGUFWriter(architecture: "controlvector")
        writer.add("controlvector.model_hint", .string(architecture))
        writer.add("controlvector.layer_count", .uint32(1))
        writer.addTensor(name: "direction.\(vector.layer)", dims: [vector.values.count], values: vector.values)
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
            throw CommandError.exportedWhole(typeName: "Vector", range: arguments.range(of: "hook"))
        }
        let destination = arguments.string("to") ?? ""
        if destination.lowercased().hasSuffix(".npy") {
            let path = ModelCatalog.canonicalPath(destination)
            do {
                try NpyWriter.write(shape: [vector.values.count], values: vector.values, to: path)
            } catch let error as NpyError {
                throw CommandError.npy(error, range: arguments.range(of: "to"))
            }
            return ResultExport.card(title: "Exported vector", [("vector", vector.label), ("file", path),
                                                                ("shape", "[\(vector.values.count)] float32"),
                                                                ("hook", HookPoint.residPost(vector.layer).name)],
                                     json: [("path", .string(path)), ("format", .string("npy")), ("layer", .int(vector.layer)),
                                            ("shape", .array([.int(vector.values.count)]))],
                                     summary: "vector [\(vector.values.count)] → \(path)")
        }
        guard destination.lowercased().hasSuffix(".gguf") else {
            throw CommandError.wrongExtension(what: "A Vector", format: "a llama.cpp control vector or a NumPy vector", ext: ".gguf or .npy",
                                              example: "love.gguf", range: arguments.range(of: "to"))
        }
        guard vector.layer > 0 else { throw CommandError.controlVectorAtLayerZero(range: arguments.range(of: "to")) }
        let path = ModelCatalog.canonicalPath(destination)
        do {
            try writeControlVector(to: path)
        } catch GGUFError.writeFailed(_, let reason) {
            throw CommandError.cannotWrite(what: "control vector", path: path, reason: reason, range: arguments.range(of: "to"))
        }
        let tensor = "direction.\(vector.layer)"
        let card = Card(title: "Exported control vector", [
            ("vector", vector.label), ("file", path), ("tensor", "\(tensor) [\(vector.values.count)] float32"),
            ("model hint", architecture), ("use", "llama-cli -m model.gguf --control-vector \((path as NSString).lastPathComponent)"),
        ], kind: "export")
        var bundle = card.mimeBundle
        bundle.json = appending(card.json, [
            ("path", .string(path)), ("tensor", .string(tensor)), ("layer", .int(vector.layer)),
            ("model_hint", .string(architecture)), ("size", .int(vector.values.count)),
        ])
        return .result(RenderedResult(typeName: "Export", summary: "control vector \(tensor) → \(path)", bundle: bundle))
    }
}
