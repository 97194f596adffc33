import CKernels
import Foundation
import Synchronization
import GGUF

// MARK: - Matrix products (the `matmul` door)
//
// Every weight matrix is multiplied straight from its GGUF blocks: a chunk of weight rows is
// dequantised into a small F32 scratch and multiplied there by every activation row, so one
// dequantisation serves the whole batch and no F32 copy of the weights exists. Decoding uses chunks
// of a few rows (L1); batches use L2-sized chunks. The arithmetic (SIMD, register tiles) is in the
// C target CKernels, built for AVX-512, AVX2 and plain C and chosen when the program starts.

extension WeightMatrix {
    /// Whether the C kernels read this matrix's blocks (otherwise its rows go through the GGUF
    /// dequantiser before the F32 product).
    var hasDirectKernel: Bool { pk_supports(Int32(type.rawValue)) != 0 }

    /// Rows `range` dequantised into `out[range.count, cols]`, bit-identical to the GGUF reader.
    func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        if hasDirectKernel {
            pk_dequantize_rows(kernelConfiguration.level, Int32(type.rawValue), quantised + range.lowerBound * bytesPerRow,
                               bytesPerRow, Int32(cols), Int32(range.count), out)
        } else {
            for r in range {
                dequantize(type, from: quantised + r * bytesPerRow, to: out + (r - range.lowerBound) * cols, count: cols)
            }
        }
    }

    /// Whether the integer kernels multiply this matrix by 8-bit activations.
    var takesIntegerActivations: Bool { pk_q8_supports(Int32(type.rawValue)) != 0 && cols % 256 == 0 }

    /// Rows `range` of out[n, rows] = xq[n, cols] · Wᵀ with `xq` the activations quantised by
    /// `pk_quantize_q8`.
    func integerProduct(_ out: UnsafeMutablePointer<Float>, _ xq: UnsafeRawPointer, n: Int, rows range: Range<Int>) {
        pk_product_q8(kernelConfiguration.level, Int32(type.rawValue), quantised + range.lowerBound * bytesPerRow,
                      bytesPerRow, Int32(cols), Int32(range.count), xq, Int32(n), out + range.lowerBound, rows)
    }

    /// The same for batches, with `xq` quantised by `pk_quantize_q8_batch`.
    func integerBatchProduct(_ out: UnsafeMutablePointer<Float>, _ xq: UnsafeRawPointer, n: Int, rows range: Range<Int>) {
        pk_product_q8_batch(kernelConfiguration.level, Int32(type.rawValue), quantised + range.lowerBound * bytesPerRow,
                            bytesPerRow, Int32(cols), Int32(range.count), xq, Int32(n), out + range.lowerBound, rows)
    }

    /// Whether the integer kernels multiply this matrix by activations quantised per 32 values
    /// (its blocks are 32 values: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
    var takesInteger32Activations: Bool { pk_q8_32_supports(Int32(type.rawValue)) != 0 }

    /// Rows `range` of out[n, rows] = xq[n, cols] · Wᵀ with `xq` the activations quantised by
    /// `pk_quantize_q8_32`, for decode and batches alike.
    func integer32Product(_ out: UnsafeMutablePointer<Float>, _ xq: UnsafeRawPointer, n: Int, rows range: Range<Int>) {
        pk_product_q8_32(kernelConfiguration.level, Int32(type.rawValue), quantised + range.lowerBound * bytesPerRow,
                         bytesPerRow, Int32(cols), Int32(range.count), xq, Int32(n), out + range.lowerBound, rows)
    }

    /// Rows `range` of out[n, rows] = x[n, cols] · Wᵀ, dequantising `chunk` rows at a time into `scratch`.
    func product(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int, rows range: Range<Int>,
                 chunk: Int, scratch: UnsafeMutablePointer<Float>) {
        let level = kernelConfiguration.level
        if hasDirectKernel {
            pk_product(level, Int32(type.rawValue), quantised + range.lowerBound * bytesPerRow, bytesPerRow,
                       Int32(cols), Int32(range.count), x, Int32(n), out + range.lowerBound, rows, scratch, Int32(chunk))
            return
        }
        var r0 = range.lowerBound
        while r0 < range.upperBound {
            let r1 = min(range.upperBound, r0 + chunk)
            dequantizeRows(r0..<r1, into: scratch)
            pk_gemm_f32(level, x, Int32(n), scratch, Int32(r1 - r0), Int32(cols), out + r0, rows)
            r0 = r1
        }
    }
}

/// out[n, W.rows] = x[n, W.cols] · Wᵀ  (a linear layer without bias).
func matmul(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: WeightMatrix, n: Int) {
    matmul([out], x, [w], n: n)
}

/// outs[m][n, ws[m].rows] = x[n, cols] · ws[m]ᵀ for several matrices reading the same input (q, k,
/// v; gate, up): all their rows are shared out in one parallel region, so the cores meet once per
/// group rather than once per matrix.
func matmul(_ outs: [UnsafeMutablePointer<Float>], _ x: UnsafePointer<Float>, _ ws: [WeightMatrix], n: Int) {
    guard n > 0, !ws.isEmpty else { return }
    let config = kernelConfiguration
    if n == 1, ws.takeRowProduct, ws.allSatisfy({ $0.hasDirectKernel && $0.cols == ws[0].cols }) {
        rowProduct(outs, x, ws, config: config)
        return
    }
    let batch = n >= config.batchFromRows
    // Rows per dequantised chunk: a multiple of 12 (every register tile's width divides it) when
    // the chunk holds that many.
    func chunkRows(_ w: WeightMatrix) -> Int {
        let rows = max(1, (batch ? config.batchChunkFloats : config.decodeChunkFloats) / max(w.cols, 1))
        return rows >= 12 ? rows / 12 * 12 : rows
    }
    // 8-bit activations, when chosen, are quantised once per product in each format the group's
    // matrices read (per 256 values for K-quants, per 32 for the 32-value block types) and read by
    // every task.
    let integer = ws[0].activations == .int8 && ws.contains { $0.takesIntegerActivations }
    var tasks: [(matrix: Int, rows: Range<Int>)] = []
    if batch {
        // One chunk per task: each task's dequantisation serves every activation row. Integer
        // batches unpack sixteen rows at a time, so their tasks are 32 rows.
        for (m, w) in ws.enumerated() {
            let c = integer && w.takesIntegerActivations ? 32 : chunkRows(w)
            for r in stride(from: 0, to: w.rows, by: c) { tasks.append((m, r..<min(w.rows, r + c))) }
        }
    } else {
        // Decode: rows in about `decodeTasksPerCore` tasks per core, whole chunks each.
        let totalRows = ws.reduce(0) { $0 + $1.rows }
        let wanted = max(1, totalRows / (config.cores * config.decodeTasksPerCore))
        for (m, w) in ws.enumerated() {
            let c = chunkRows(w)
            let per = max(c, (wanted + c - 1) / c * c)
            for r in stride(from: 0, to: w.rows, by: per) { tasks.append((m, r..<min(w.rows, r + per))) }
        }
    }
    let scratchFloats = ws.map { chunkRows($0) * $0.cols }.max() ?? 0
    nonisolated(unsafe) let outputs = outs
    withQuantisedActivations(x, n: n, ws, batch: batch, level: config.level) { perK, per32 in
        nonisolated(unsafe) let (quantisedX, quantisedX32) = (perK, per32)
        WorkerPool.shared.run(tasks.count) { t in
            let task = tasks[t], w = ws[task.matrix]
            if let quantisedX32, w.takesInteger32Activations {
                w.integer32Product(outputs[task.matrix], quantisedX32, n: n, rows: task.rows)
                return
            }
            if let quantisedX, w.takesIntegerActivations {
                if batch {
                    w.integerBatchProduct(outputs[task.matrix], quantisedX, n: n, rows: task.rows)
                } else {
                    w.integerProduct(outputs[task.matrix], quantisedX, n: n, rows: task.rows)
                }
                return
            }
            let buffer = ScratchPool.shared.take(floats: scratchFloats)
            defer { ScratchPool.shared.give(back: buffer) }
            w.product(outputs[task.matrix], x, n: n, rows: task.rows, chunk: chunkRows(w), scratch: buffer.pointer)
        }
    }
}

/// Runs `body` with x[n, cols] quantised to 8 bits once for a product, in each format the group's
/// matrices read: per 256 values for the K-quants (`perK`, laid out for the batch tiles when
/// `batch`), per 32 for the 32-value block types (`per32`). Both are nil with F32 activations.
private func withQuantisedActivations<R>(_ x: UnsafePointer<Float>, n: Int, _ ws: [WeightMatrix], batch: Bool, level: Int32,
                                         _ body: (_ perK: UnsafeRawPointer?, _ per32: UnsafeRawPointer?) -> R) -> R {
    let cols = Int32(ws[0].cols)
    let int8 = ws[0].activations == .int8
    var taken: [(pointer: UnsafeMutablePointer<Float>, floats: Int)] = []
    defer { taken.forEach(ScratchPool.shared.give(back:)) }
    func buffer(rowBytes: Int) -> UnsafeMutableRawPointer {
        let b = ScratchPool.shared.take(floats: (n * rowBytes + 3) / 4)
        taken.append(b)
        return UnsafeMutableRawPointer(b.pointer)
    }
    var perK: UnsafeRawPointer?, per32: UnsafeRawPointer?
    if int8, ws.contains(where: { $0.takesIntegerActivations }) {
        let target = buffer(rowBytes: batch ? pk_q8_batch_row_bytes(cols) : pk_q8_row_bytes(cols))
        if batch {
            pk_quantize_q8_batch(level, x, cols, Int32(n), target)
        } else {
            pk_quantize_q8(level, x, cols, Int32(n), target)
        }
        perK = UnsafeRawPointer(target)
    }
    if int8, ws.contains(where: { $0.takesInteger32Activations }) {
        let target = buffer(rowBytes: pk_q8_32_row_bytes(cols))
        pk_quantize_q8_32(x, cols, Int32(n), target)
        per32 = UnsafeRawPointer(target)
    }
    return body(perK, per32)
}

/// outs[m] = x · ws[m]ᵀ for one activation row and matrices of one shape (a gated MLP's gate and
/// up), with `then(r)` run on each range r of rows once every output holds them: inside the
/// product's tasks where the one-row path applies (ranges start at multiples of 8, so an 8-lane
/// activation meets the same groups of lanes as over the whole row), else once after the product.
func matmulGated(_ outs: [UnsafeMutablePointer<Float>], _ x: UnsafePointer<Float>, _ ws: [WeightMatrix],
                 then: (Range<Int>) -> Void) {
    guard !ws.isEmpty else { return }
    if ws.takeRowProduct,
       ws.allSatisfy({ $0.hasDirectKernel && $0.cols == ws[0].cols && $0.rows == ws[0].rows }) {
        withoutActuallyEscaping(then) { rowProduct(outs, x, ws, config: kernelConfiguration, then: $0) }
        return
    }
    matmul(outs, x, ws, n: 1)
    then(0..<ws[0].rows)
}

extension Array where Element == WeightMatrix {
    /// Whether a one-row product of these matrices takes `rowProduct`: F32 activations, or 8-bit
    /// ones with every matrix read by an integer kernel (a K-quant or a 32-value block type).
    var takeRowProduct: Bool {
        guard let first else { return false }
        return first.activations != .int8
            || allSatisfy { $0.takesInteger32Activations || $0.takesIntegerActivations }
    }
}

/// The decode product (one activation row, F32 or 8-bit): Σx per 32 values (or x quantised in each
/// format the group's matrices read, per 256 values for K-quants, per 32 for the others) once for
/// the group, then the group's rows shared out in guided tasks — each takes 1/cores of the rows left, down to
/// `decodeTaskWeights` weights — so the first claims are large (few atomic claims per region)
/// and the last small (the cores finish together). A task is only its rows, cut anywhere: each row
/// is its own dot product, so the bits do not depend on the split. With `then`, a task takes the
/// same rows of every matrix (cut at multiples of 8) and passes them to `then`.
private func rowProduct(_ outs: [UnsafeMutablePointer<Float>], _ x: UnsafePointer<Float>, _ ws: [WeightMatrix],
                        config: KernelConfiguration, then: ((Range<Int>) -> Void)? = nil) {
    let cols = ws[0].cols, level = config.level
    let paired = then != nil
    let totalRows = paired ? ws[0].rows : ws.reduce(0) { $0 + $1.rows }
    let unit = paired ? 8 : 1                            // rows a task's bounds are multiples of
    func whole(_ rows: Int) -> Int { (rows + unit - 1) / unit * unit }
    let smallest = whole(max(1, config.decodeTaskWeights / max(cols * (paired ? ws.count : 1), 1)))
    var bounds = [0]
    while let last = bounds.last, last < totalRows {
        bounds.append(min(totalRows, last + whole(max(smallest, (totalRows - last) / config.cores))))
    }
    let int8 = ws[0].activations == .int8
    withQuantisedActivations(x, n: 1, ws, batch: false, level: level) { perK, per32 in
        nonisolated(unsafe) let (quantised32, quantisedK) = (per32, perK)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: cols / 32 + 1) { buffer in
            let xs = buffer.baseAddress!
            if !int8 { pk_block_sums(level, x, Int32(cols), xs) }
            nonisolated(unsafe) let (outputs, sums) = (outs, UnsafePointer(xs))
            // Rows a..<b of w into out[a..<b].
            func product(_ w: WeightMatrix, _ a: Int, _ b: Int, _ out: UnsafeMutablePointer<Float>) {
                if let quantised32, w.takesInteger32Activations {
                    pk_product_q8_32(level, Int32(w.type.rawValue), w.quantised + a * w.bytesPerRow, w.bytesPerRow, Int32(cols),
                                     Int32(b - a), quantised32, 1, out + a, 1)
                } else if let quantisedK {
                    pk_product_q8(level, Int32(w.type.rawValue), w.quantised + a * w.bytesPerRow, w.bytesPerRow, Int32(cols),
                                  Int32(b - a), quantisedK, 1, out + a, 1)
                } else {
                    pk_product_row(level, Int32(w.type.rawValue), w.quantised + a * w.bytesPerRow, w.bytesPerRow, Int32(cols),
                                   Int32(b - a), x, sums, out + a, 1)
                }
            }
            WorkerPool.shared.run(bounds.count - 1) { t in
                let lo = bounds[t], hi = bounds[t + 1]
                if let then {
                    for (m, w) in ws.enumerated() { product(w, lo, hi, outputs[m]) }
                    then(lo..<hi)
                    return
                }
                var first = 0                               // the matrix's first row in the group
                for (m, w) in ws.enumerated() {
                    let a = max(lo, first) - first, b = min(hi, first + w.rows) - first
                    if a < b { product(w, a, b, outputs[m]) }
                    first += w.rows
                }
            }
        }
    }
}

// MARK: - Scratch

/// Reusable 64-byte-aligned scratch buffers for parallel tasks (a product's dequantised chunk, a
/// sequence's attention row): taking one is a lock and a pop, where a fresh allocation would be an
/// mmap and a page fault per 4 KB each time.
final class ScratchPool: Sendable {
    static let shared = ScratchPool()
    /// Idle buffers and their sizes in floats (at most one per thread that ever ran a task).
    private let idle = Mutex<[(floats: Int, address: Int)]>([])

    /// A buffer of at least `floats` floats, to hand back with `give(back:)`.
    func take(floats: Int) -> (pointer: UnsafeMutablePointer<Float>, floats: Int) {
        let reused: (floats: Int, address: Int)? = idle.withLock { list in
            guard let i = list.firstIndex(where: { $0.floats >= floats }) else { return nil }
            return list.remove(at: i)
        }
        if let reused, let pointer = UnsafeMutablePointer<Float>(bitPattern: reused.address) {
            return (pointer, reused.floats)
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(floats, 16) * 4, alignment: 64)
        return (raw.bindMemory(to: Float.self, capacity: max(floats, 16)), max(floats, 16))
    }

    func give(back buffer: (pointer: UnsafeMutablePointer<Float>, floats: Int)) {
        idle.withLock { list in
            list.append((buffer.floats, Int(bitPattern: buffer.pointer)))
        }
    }
}
