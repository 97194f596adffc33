import COpenBLAS
import Foundation
import GGUF
import Transformer

// MARK: - Reading a residual vector out as tokens

/// One token of a top-K list: id, text (when a tokenizer was given), probability and logit.
public struct TokenScore: Sendable, Equatable {
    public var id: Int
    public var token: String
    public var probability: Float
    public var logit: Float

    public init(id: Int, token: String, probability: Float, logit: Float) {
        self.id = id
        self.token = token
        self.probability = probability
        self.logit = logit
    }
}

/// The model's final RMSNorm and unembedding applied to arbitrary residual-stream vectors — the
/// read-out of the logit lens (nostalgebraist 2020): what the model would predict if it stopped here.
///
/// `Transformer` keeps its unembedding matrix private to the forward pass, so this keeps its own
/// F32 copy of `output.weight` (or the tied `token_embd.weight`), dequantised once per model file
/// and shared by every analysis.
public final class Readout: @unchecked Sendable {
    public let vocabularySize: Int
    public let modelDim: Int
    private let finalNorm: [Float]      // [d_model]
    private let epsilon: Float
    private let unembedding: [Float]    // [vocab, d_model] row-major

    private init(model: Model) throws {
        let c = model.config
        let file = model.file
        guard let info = file.tensor(named: "output.weight") ?? file.tensor(named: "token_embd.weight") else {
            throw TransformerError.missingTensor("output.weight")
        }
        guard info.rowLength == c.modelDim, info.rowCount >= c.vocabularySize else {
            throw TransformerError.badTensorShape(name: info.name, expected: [c.modelDim, c.vocabularySize], found: info.dims)
        }
        var matrix = [Float](repeating: 0, count: c.vocabularySize * c.modelDim)
        try matrix.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            try file.dequantizeRows(info, rows: 0..<c.vocabularySize, into: base)
        }
        vocabularySize = c.vocabularySize
        modelDim = c.modelDim
        finalNorm = model.weights.finalNorm
        epsilon = c.normEpsilon
        unembedding = matrix
    }

    nonisolated(unsafe) private static var shared: [ObjectIdentifier: Readout] = [:]
    private static let lock = NSLock()

    /// The read-out for `model`, built on first use (about 0.1 s and vocab × d_model floats).
    public static func of(_ model: Model) throws -> Readout {
        lock.lock()
        defer { lock.unlock() }
        if let readout = shared[ObjectIdentifier(model)] { return readout }
        let readout = try Readout(model: model)
        shared[ObjectIdentifier(model)] = readout
        return readout
    }

    /// Logits `[rows, vocab]` of `rows` residual vectors `states[rows, d_model]`: final RMSNorm, then W_U.
    public func logits(_ states: [Float], rows: Int) -> [Float] {
        let d = modelDim
        precondition(states.count == rows * d, "readout states must be rows × d_model")
        var normed = [Float](repeating: 0, count: rows * d)     // [rows, d_model]
        for r in 0..<rows {
            var sum: Float = 0
            for i in 0..<d { sum += states[r * d + i] * states[r * d + i] }
            let scale = 1 / (sum / Float(d) + epsilon).squareRoot()
            for i in 0..<d { normed[r * d + i] = states[r * d + i] * scale * finalNorm[i] }
        }
        var out = [Float](repeating: 0, count: rows * vocabularySize)   // [rows, vocab]
        guard rows > 0 else { return out }
        normed.withUnsafeBufferPointer { x in
            unembedding.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(vocabularySize), Int32(d),
                                1, x.baseAddress, Int32(d), w.baseAddress, Int32(d), 0, o.baseAddress, Int32(vocabularySize))
                }
            }
        }
        return out
    }

    /// The top `k` tokens of each of `rows` residual vectors.
    public func top(_ states: [Float], rows: Int, k: Int, tokenizer: Tokenizer? = nil) -> [[TokenScore]] {
        let all = logits(states, rows: rows)
        return (0..<rows).map { r in
            let row = Array(all[r * vocabularySize..<(r + 1) * vocabularySize])
            return Scores.top(row, k: k, tokenizer: tokenizer)
        }
    }
}

// MARK: - Softmax helpers

enum Scores {
    /// softmax(logits), computed stably in Double and returned as Float.
    static func softmax(_ logits: [Float]) -> [Float] {
        let m = logits.max() ?? 0
        var total = 0.0
        var out = [Float](repeating: 0, count: logits.count)
        for i in logits.indices {
            let e = exp(Double(logits[i] - m))
            out[i] = Float(e)
            total += e
        }
        let inv = Float(1 / total)
        for i in out.indices { out[i] *= inv }
        return out
    }

    /// p(index) under softmax(logits), in Double.
    static func probability(_ logits: [Float], _ index: Int) -> Double {
        let m = logits.max() ?? 0
        var total = 0.0
        for v in logits { total += exp(Double(v - m)) }
        return exp(Double(logits[index] - m)) / total
    }

    /// The `k` most likely tokens, most likely first.
    static func top(_ logits: [Float], k: Int, tokenizer: Tokenizer?) -> [TokenScore] {
        let m = logits.max() ?? 0
        var total = 0.0
        for v in logits { total += exp(Double(v - m)) }
        return Sampler.topK(logits, k).map { entry in
            TokenScore(id: entry.index, token: label(entry.index, tokenizer),
                       probability: Float(exp(Double(entry.value - m)) / total), logit: entry.value)
        }
    }

    /// A token's text, or `#id` without a tokenizer.
    static func label(_ id: Int, _ tokenizer: Tokenizer?) -> String {
        tokenizer.map { $0.piece(Int32(id)) } ?? "#\(id)"
    }
}
