import Foundation
import GGUF

// MARK: - Activation precision

/// How a model's products treat the activations they multiply.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// F32, as transformers computes: every product within F32 rounding of the reference.
    case f32
    /// Quantised to 8 bits per block, as llama.cpp does, where an integer kernel exists for the
    /// matrix's type (K-quants per 256 values, the 32-value block types per 32): faster, up to ~1e-3
    /// relative error per product.
    case int8
}

// MARK: - Weight matrix

/// One weight matrix `W[rows, cols]` (GGUF `dims = [cols, rows]`, a row is contiguous), computing
/// `y = W·x` for activations `x[cols]`.
///
/// It holds only a view of its blocks inside the GGUF mapping: every product reads them directly
/// (see `matmul`), so the weights cost the file's pages and nothing more.
public final class WeightMatrix: @unchecked Sendable {
    public let name: String
    public let rows: Int                       // output features
    public let cols: Int                       // input features
    public let type: GGMLType
    let quantised: UnsafeRawPointer            // rows × bytesPerRow, inside the GGUF mapping
    let bytesPerRow: Int
    /// How products with this matrix treat their activations (the model's choice at load).
    public let activations: ActivationPrecision

    init(file: GGUFFile, info: GGUFTensorInfo, activations: ActivationPrecision) throws {
        guard info.dims.count == 2 || (info.dims.count > 2 && info.dims[2...].allSatisfy { $0 == 1 }) else {
            throw TransformerError.badTensorShape(name: info.name, expected: [info.rowLength, info.rowCount], found: info.dims)
        }
        name = info.name
        rows = info.rowCount
        cols = info.rowLength
        type = info.type
        let bytes = file.bytes(of: info)
        guard let base = bytes.baseAddress, rows > 0 else { throw TransformerError.missingTensor(info.name) }
        quantised = base
        bytesPerRow = bytes.count / rows
        self.activations = activations
    }

    /// Bytes of the matrix's blocks (in the file mapping).
    public var byteCount: Int { rows * bytesPerRow }
}

// MARK: - Weights

/// The weights of one transformer block (llama2.c's `TransformerWeights`, one layer's slice).
public final class BlockWeights: @unchecked Sendable {
    public let attnNorm: [Float]          // [d_model]            blk.l.attn_norm.weight
    public let wq: WeightMatrix           // [H·d_head, d_model]  blk.l.attn_q.weight
    public let wk: WeightMatrix           // [H_kv·d_head, d_model]
    public let wv: WeightMatrix           // [H_kv·d_head, d_model]
    public let wo: WeightMatrix           // [d_model, H·d_head]  blk.l.attn_output.weight
    public let bq: [Float]?               // [H·d_head]           qwen2 only
    public let bk: [Float]?               // [H_kv·d_head]
    public let bv: [Float]?               // [H_kv·d_head]
    public let ffnNorm: [Float]           // [d_model]            blk.l.ffn_norm.weight
    public let wGate: WeightMatrix        // [d_ff, d_model]      blk.l.ffn_gate.weight
    public let wUp: WeightMatrix          // [d_ff, d_model]      blk.l.ffn_up.weight
    public let wDown: WeightMatrix        // [d_model, d_ff]      blk.l.ffn_down.weight
    // Gemma 3 only. llama.cpp's converter stores Gemma's norm gains as 1 + w, so every RMSNorm
    // here is the same op as llama's (transformers computes x̂ · (1 + w) from the raw w).
    public let qNorm: [Float]?            // [d_head]             blk.l.attn_q_norm.weight, per query head
    public let kNorm: [Float]?            // [d_head]             blk.l.attn_k_norm.weight, per key head
    public let attnPostNorm: [Float]?     // [d_model]            blk.l.post_attention_norm.weight
    public let ffnPostNorm: [Float]?      // [d_model]            blk.l.post_ffw_norm.weight

    init(attnNorm: [Float], wq: WeightMatrix, wk: WeightMatrix, wv: WeightMatrix, wo: WeightMatrix,
         bq: [Float]?, bk: [Float]?, bv: [Float]?, ffnNorm: [Float],
         wGate: WeightMatrix, wUp: WeightMatrix, wDown: WeightMatrix,
         qNorm: [Float]? = nil, kNorm: [Float]? = nil, attnPostNorm: [Float]? = nil, ffnPostNorm: [Float]? = nil) {
        self.attnNorm = attnNorm; self.wq = wq; self.wk = wk; self.wv = wv; self.wo = wo
        self.bq = bq; self.bk = bk; self.bv = bv
        self.ffnNorm = ffnNorm; self.wGate = wGate; self.wUp = wUp; self.wDown = wDown
        self.qNorm = qNorm; self.kNorm = kNorm; self.attnPostNorm = attnPostNorm; self.ffnPostNorm = ffnPostNorm
    }

    var matrices: [WeightMatrix] { [wq, wk, wv, wo, wGate, wUp, wDown] }
}

/// All weights of a model.
public final class Weights: @unchecked Sendable {
    /// The mapped file; the quantised views point into it, so it lives as long as the weights.
    public let file: GGUFFile
    public let tokenEmbedding: WeightMatrix   // [vocab, d_model]  token_embd.weight
    public let blocks: [BlockWeights]         // L of them
    public let finalNorm: [Float]             // [d_model]         output_norm.weight
    public let output: WeightMatrix           // [vocab, d_model]  output.weight, or token_embd when tied
    /// How every product of these weights treats its activations.
    public let activations: ActivationPrecision

    /// Loads every tensor the config names: norms and biases as F32 arrays, matrices as views of
    /// their blocks in the mapping.
    public init(file: GGUFFile, config: ModelConfig, activations: ActivationPrecision = .f32) throws {
        self.file = file
        self.activations = activations
        func info(_ name: String) throws -> GGUFTensorInfo {
            guard let t = file.tensor(named: name) else { throw TransformerError.missingTensor(name) }
            return t
        }
        func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
            let t = try info(name)
            guard t.rowCount == rows, t.rowLength == cols else {
                throw TransformerError.badTensorShape(name: name, expected: [cols, rows], found: t.dims)
            }
            return try WeightMatrix(file: file, info: t, activations: activations)
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let t = try info(name)
            guard t.elementCount == count else { throw TransformerError.badTensorShape(name: name, expected: [count], found: t.dims) }
            return try file.dequantize(t)
        }
        func optionalVector(_ name: String, count: Int) throws -> [Float]? {
            file.tensor(named: name) == nil ? nil : try vector(name, count: count)
        }
        let d = config.modelDim
        let gemma = config.block == .gemma3
        func gemmaVector(_ name: String, count: Int) throws -> [Float]? {
            gemma ? try vector(name, count: count) : nil
        }
        tokenEmbedding = try matrix("token_embd.weight", rows: config.vocabularySize, cols: d)
        blocks = try (0..<config.layerCount).map { l in
            let p = "blk.\(l)."
            return BlockWeights(
                attnNorm: try vector(p + "attn_norm.weight", count: d),
                wq: try matrix(p + "attn_q.weight", rows: config.qDim, cols: d),
                wk: try matrix(p + "attn_k.weight", rows: config.kvDim, cols: d),
                wv: try matrix(p + "attn_v.weight", rows: config.kvDim, cols: d),
                wo: try matrix(p + "attn_output.weight", rows: d, cols: config.qDim),
                bq: try optionalVector(p + "attn_q.bias", count: config.qDim),
                bk: try optionalVector(p + "attn_k.bias", count: config.kvDim),
                bv: try optionalVector(p + "attn_v.bias", count: config.kvDim),
                ffnNorm: try vector(p + "ffn_norm.weight", count: d),
                wGate: try matrix(p + "ffn_gate.weight", rows: config.ffnDim, cols: d),
                wUp: try matrix(p + "ffn_up.weight", rows: config.ffnDim, cols: d),
                wDown: try matrix(p + "ffn_down.weight", rows: d, cols: config.ffnDim),
                qNorm: try gemmaVector(p + "attn_q_norm.weight", count: config.headDim),
                kNorm: try gemmaVector(p + "attn_k_norm.weight", count: config.headDim),
                attnPostNorm: try gemmaVector(p + "post_attention_norm.weight", count: d),
                ffnPostNorm: try gemmaVector(p + "post_ffw_norm.weight", count: d))
        }
        finalNorm = try vector("output_norm.weight", count: d)
        output = config.tiedOutput ? tokenEmbedding : try matrix("output.weight", rows: config.vocabularySize, cols: d)
    }

    /// Bytes held outside the file mapping: the norm vectors and biases read as F32 (the
    /// matrices are views of the mapping).
    public var residentBytes: Int {
        var floats = finalNorm.count
        for b in blocks {
            floats += b.attnNorm.count + b.ffnNorm.count + (b.bq?.count ?? 0) + (b.bk?.count ?? 0) + (b.bv?.count ?? 0)
        }
        return floats * MemoryLayout<Float>.size
    }

    /// Distinct tensor types among the matrices, e.g. ["Q4_1", "Q8_0"].
    public var quantisationSummary: [String] {
        var seen: [String] = []
        for m in [tokenEmbedding, output] + blocks.flatMap(\.matrices) where !seen.contains(m.type.name) {
            seen.append(m.type.name)
        }
        return seen
    }
}
