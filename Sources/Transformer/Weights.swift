import Foundation
import GGUF

// MARK: - Weight matrix

/// One weight matrix `W[rows, cols]` (GGUF `dims = [cols, rows]`, a row is contiguous), computing
/// `y = W·x` for activations `x[cols]`.
///
/// It keeps two views of the same numbers: the quantised blocks inside the GGUF mapping (read
/// directly by the decode kernels, one token at a time) and, when the memory budget allows, an F32
/// copy dequantised once at load (fed to BLAS for prompts, many tokens at a time).
public final class WeightMatrix: @unchecked Sendable {
    public let name: String
    public let rows: Int                       // output features
    public let cols: Int                       // input features
    public let type: GGMLType
    let quantised: UnsafeRawPointer            // rows × bytesPerRow, inside the GGUF mapping
    let bytesPerRow: Int
    let f32: UnsafeMutablePointer<Float>?      // [rows, cols] row-major, or nil to save memory
    let interleaved: InterleavedBlocks?        // the blocks repacked for the decode kernels (AVX2 builds)

    init(file: GGUFFile, info: GGUFTensorInfo, keepF32: Bool) throws {
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
        if kernelsUseInterleavedBlocks, InterleavedBlocks.supports(type, rows: rows, cols: cols) {
            interleaved = InterleavedBlocks(type: type, source: base, rows: rows, cols: cols, bytesPerRow: bytesPerRow)
        } else {
            interleaved = nil
        }
        if keepF32 {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rows * cols)
            f32 = buffer
            // Dequantise in row chunks on every core: this is most of the load time.
            let chunks = max(1, min(rows / 64, ProcessInfo.processInfo.activeProcessorCount * 4))
            let perChunk = (rows + chunks - 1) / chunks
            let failure = ErrorBox()
            parallelFor(chunks) { c in
                let lo = c * perChunk, hi = min(rows, lo + perChunk)
                guard lo < hi else { return }
                do { try file.dequantizeRows(info, rows: lo..<hi, into: buffer + lo * cols) } catch { failure.set(error) }
            }
            if let error = failure.error { buffer.deallocate(); interleaved?.deallocate(); throw error }
        } else {
            f32 = nil
        }
        if interleaved != nil, f32 != nil { releasePages(of: bytes) }
    }

    deinit { f32?.deallocate(); interleaved?.deallocate() }

    /// Bytes held in ordinary memory (the F32 copy and the repacked blocks); the GGUF blocks live in
    /// the file mapping.
    public var residentBytes: Int {
        (f32 == nil ? 0 : rows * cols * MemoryLayout<Float>.size) + (interleaved.map { rows / interleavedGroupRows * $0.groupBytes } ?? 0)
    }

    /// Dequantises rows `range` into `out[range.count, cols]`.
    func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        if let f32 {
            out.update(from: f32 + range.lowerBound * cols, count: range.count * cols)
            return
        }
        for r in range {
            dequantize(type, from: quantised + r * bytesPerRow, to: out + (r - range.lowerBound) * cols, count: cols)
        }
    }
}

/// Drops this process's copies of the whole pages inside `bytes` of the read-only file mapping: a
/// matrix with both the F32 copy and the interleaved blocks no longer reads its GGUF blocks (only
/// rare fallbacks do, and those pages come back from the page cache on demand). Keeps the resident
/// size with the model loaded ~100 MB lower.
private func releasePages(of bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: base) + page - 1) / page * page
    let end = (Int(bitPattern: base) + bytes.count) / page * page
    guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(pointer, end - start, Int32(MADV_DONTNEED))
}

/// Collects the first error thrown inside a concurrentPerform body.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
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

    init(attnNorm: [Float], wq: WeightMatrix, wk: WeightMatrix, wv: WeightMatrix, wo: WeightMatrix,
         bq: [Float]?, bk: [Float]?, bv: [Float]?, ffnNorm: [Float],
         wGate: WeightMatrix, wUp: WeightMatrix, wDown: WeightMatrix) {
        self.attnNorm = attnNorm; self.wq = wq; self.wk = wk; self.wv = wv; self.wo = wo
        self.bq = bq; self.bk = bk; self.bv = bv
        self.ffnNorm = ffnNorm; self.wGate = wGate; self.wUp = wUp; self.wDown = wDown
    }

    var matrices: [WeightMatrix] { [wq, wk, wv, wo, wGate, wUp, wDown] }
}

/// All weights of a llama-family model.
public final class Weights: @unchecked Sendable {
    /// The mapped file; the quantised views point into it, so it lives as long as the weights.
    public let file: GGUFFile
    public let tokenEmbedding: WeightMatrix   // [vocab, d_model]  token_embd.weight
    public let blocks: [BlockWeights]         // L of them
    public let finalNorm: [Float]             // [d_model]         output_norm.weight
    public let output: WeightMatrix           // [vocab, d_model]  output.weight, or token_embd when tied

    /// Loads every tensor the config names. Matrices are dequantised to F32 when the whole model's
    /// F32 copy fits in `f32Budget` bytes; otherwise every product reads the quantised blocks.
    public init(file: GGUFFile, config: ModelConfig, f32Budget: Int = 1_500_000_000) throws {
        self.file = file
        let keepF32 = config.parameterCount * MemoryLayout<Float>.size <= f32Budget
        func info(_ name: String) throws -> GGUFTensorInfo {
            guard let t = file.tensor(named: name) else { throw TransformerError.missingTensor(name) }
            return t
        }
        func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
            let t = try info(name)
            guard t.rowCount == rows, t.rowLength == cols else {
                throw TransformerError.badTensorShape(name: name, expected: [cols, rows], found: t.dims)
            }
            return try WeightMatrix(file: file, info: t, keepF32: keepF32)
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
                wDown: try matrix(p + "ffn_down.weight", rows: d, cols: config.ffnDim))
        }
        finalNorm = try vector("output_norm.weight", count: d)
        output = config.tiedOutput ? tokenEmbedding : try matrix("output.weight", rows: config.vocabularySize, cols: d)
    }

    /// Bytes of F32 copies held in memory (excluding the file mapping).
    public var residentBytes: Int {
        var total = tokenEmbedding.residentBytes + (output === tokenEmbedding ? 0 : output.residentBytes)
        for b in blocks { total += b.matrices.reduce(0) { $0 + $1.residentBytes } }
        return total
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
