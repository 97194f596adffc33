import COpenBLAS
import Foundation

// MARK: - Transposed product
//
// The forward pass multiplies by Wᵀ (y[n, rows] = x[n, cols] · Wᵀ); the backward pass carries a
// gradient the other way, dx[n, cols] = dy[n, rows] · W, reading W's rows as they are stored.

/// Weight rows dequantised at once by `matmulTransposed`: 512 rows of a 1536-wide matrix are 3 MB
/// of scratch, and each panel is one BLAS product over every gradient row.
let transposedPanelRows = 512

/// dx[n, W.cols] = dy[n, W.rows] · W, or `+=` with `accumulate`. Dequantises panels of rows into
/// scratch (shared between the cores) and multiplies each panel by all n rows at once, so no
/// dequantised copy of the matrix is kept.
func matmulTransposed(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: WeightMatrix, n: Int,
                      accumulate: Bool = false) {
    guard n > 0 else { return }
    let rows = w.rows, cols = w.cols
    let panel = min(rows, transposedPanelRows)
    let scratch = ScratchPool.shared.take(floats: panel * cols)
    defer { ScratchPool.shared.give(back: scratch) }
    nonisolated(unsafe) let buffer = scratch.pointer
    var beta: Float = accumulate ? 1 : 0
    var r0 = 0
    while r0 < rows {
        let r1 = min(rows, r0 + panel)
        let parts = max(1, min(WorkerPool.shared.width * 4, (r1 - r0) / 32))
        let perPart = (r1 - r0 + parts - 1) / parts
        let start = r0
        WorkerPool.shared.run(parts) { p in
            let lo = start + p * perPart, hi = min(r1, lo + perPart)
            guard lo < hi else { return }
            w.dequantizeRows(lo..<hi, into: buffer + (lo - start) * cols)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(cols), Int32(r1 - r0),
                    1, dy + r0, Int32(rows), buffer, Int32(cols), beta, dx, Int32(cols))
        beta = 1
        r0 = r1
    }
}
