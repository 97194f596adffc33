import Foundation
import Synchronization

// MARK: - Panel products for large batches
//
// A sweep's resumed pass multiplies hundreds to thousands of rows by every block matrix. There the
// dot-product kernel of GemmKernels.swift (horizontal sums, x rows re-read per weight tile) and
// BLAS (which re-packs both operands each call, and whose idle threads spin against ours) both stay
// well under the cores' peak. This is the classic outer-product kernel instead: 16 weight rows are
// dequantised from the row-interleaved blocks straight into a k-major panel (panel[k][16]), and a
// 6×16 tile of outputs accumulates in twelve 8-lane registers, one broadcast of x[i][k] feeding two
// FMAs. No horizontal sums, no packing of x, and the dequantisation (one vector op per 8 weights)
// is shared by every row of the batch. The weights come out bit-identical to the F32 copy, and
// each output is the same dot product, summed in a different order.

/// Weight rows per panel: two 8-lane vectors.
let panelRows = 16
/// Batch rows per register tile (12 accumulators + 2 weight vectors + 1 broadcast = 15 registers).
private let panelTileRows = 6
/// Multiply–adds ×2 per task that `panelProduct` aims at when it splits a batch (24 M: ~0.25 ms).
private let panelTaskFlops = 24 << 20
/// Weight rows per task: four panels, so each x tile read serves 64 outputs.
private let panelTaskRows = 64

extension WeightMatrix {
    /// Whether `panelProduct` can multiply this matrix: its blocks are row-interleaved (AVX2 builds)
    /// in whole 16-row panels (32 rows, so Q4_1's group pairs are whole too).
    var hasPanelKernel: Bool {
        interleaved != nil && (type == .q4_1 || type == .q8_0) && rows % 32 == 0 && cols % 32 == 0
    }

    /// Weight rows `16p..<16p + 16` as a k-major panel `out[cols][16]`, with the GGUF dequantiser's
    /// arithmetic (Q4_1: d·q + m, multiply then add; Q8_0: d·q), so bit-identical to the F32 copy.
    func dequantizePanel(_ p: Int, into out: UnsafeMutablePointer<Float>) {
        guard let blocks = interleaved else { preconditionFailure("\(name) has no interleaved blocks") }
        let half = UnsafePointer(halfToFloatTable)
        let o = UnsafeMutableRawPointer(out)
        for g in 0..<2 {                                         // the panel's two 8-row groups
            let group = blocks.start(ofGroup: 2 &* p &+ g)
            let lane = g &* 32                                    // byte offset of the group's 8 lanes
            for j in 0..<(cols / 32) {
                let b = group + j &* blocks.blockStride
                var d = SIMD8<Float>()
                for r in 0..<8 { d[r] = half[Int(b.load(fromByteOffset: 2 &* r, as: UInt16.self))] }
                let column = j &* 32                              // the block's first column
                if type == .q4_1 {
                    var m = SIMD8<Float>()
                    for r in 0..<8 { m[r] = half[Int(b.load(fromByteOffset: 16 &+ 2 &* r, as: UInt16.self))] }
                    for k in 0..<4 {
                        let words = b.loadUnaligned(fromByteOffset: 32 &+ 32 &* k, as: SIMD8<UInt32>.self)
                        // Nibble s of word k: element 4k + s/2 (s even) or 16 + 4k + s/2 (s odd).
                        for s in 0..<8 {
                            let q = toFloat((words &>> UInt32(4 &* s)) & 0xF)
                            let e = (s & 1 == 0 ? 0 : 16) &+ 4 &* k &+ s / 2
                            o.storeBytes(of: d * q + m, toByteOffset: (column &+ e) &* 64 &+ lane, as: SIMD8<Float>.self)
                        }
                    }
                } else {
                    // Q8_0: element e of row r at byte 16 + 8e + r.
                    for e in 0..<32 {
                        let q = signedBytesToFloat(b + (16 &+ 8 &* e))
                        o.storeBytes(of: d * q, toByteOffset: (column &+ e) &* 64 &+ lane, as: SIMD8<Float>.self)
                    }
                }
            }
        }
    }
}

/// outs[m][n, ws[m].rows] = x[n, cols] · ws[m]ᵀ for matrices with `hasPanelKernel` that read the
/// same x (q, k, v; gate, up): one parallel region over every matrix's blocks of up to 64 weight rows.
/// A task dequantises its block into an L2-sized scratch (64 × 1536 floats at most: 393 KB) and
/// runs its share of the batch through it; x is read once per block, 1 byte per 32 FLOP. Large
/// batches are also split, so tasks stay short and both cores finish together.
func panelProduct(_ outs: [UnsafeMutablePointer<Float>], _ x: UnsafePointer<Float>, _ ws: [WeightMatrix], n: Int) {
    let cols = ws[0].cols
    var blocks: [(m: Int, row0: Int, rows: Int)] = []
    for (m, w) in ws.enumerated() {
        for row0 in stride(from: 0, to: w.rows, by: panelTaskRows) {
            blocks.append((m, row0, min(panelTaskRows, w.rows - row0)))
        }
    }
    // Batch parts: tasks of ~24 MFLOP (~0.25 ms), so the core that finishes first waits little for
    // the other's last task, and at least 16 tasks in all; each part at least 96 rows.
    let blockFlops = 2 * n * cols * panelTaskRows
    let wanted = max((blockFlops + panelTaskFlops - 1) / panelTaskFlops, (16 + blocks.count - 1) / blocks.count)
    let parts = max(1, min(wanted, n / 96))
    let partRows = (n / parts + panelTileRows - 1) / panelTileRows * panelTileRows
    nonisolated(unsafe) let outputs = outs
    WorkerPool.shared.run(blocks.count * parts) { t in
        let block = blocks[t / parts], part = t % parts
        let i0 = part * partRows, i1 = part == parts - 1 ? n : min(n, i0 + partRows)
        guard i0 < i1 else { return }
        let w = ws[block.m], panels = block.rows / panelRows
        let buffer = ScratchPool.shared.take(floats: panelTaskRows * cols)
        defer { ScratchPool.shared.give(back: buffer) }
        for p in 0..<panels {
            w.dequantizePanel(block.row0 / panelRows + p, into: buffer.pointer + p * panelRows * cols)
        }
        panelBlock(outputs[block.m] + (i0 * w.rows + block.row0), outStride: w.rows, x + i0 * cols, n: i1 - i0,
                   buffer.pointer, panels: panels, cols: cols)
    }
}

/// Most columns in one pass over the panels: a 16 × 192 slice of a panel (12 KB) stays in L1 while
/// every x tile of a row block goes through it.
private let panelDepth = 192
/// Batch rows per block: a 192-row × 192-column slice of x (147 KB) stays in L2 across the panels,
/// and the block's outputs (192 × 64 floats, 48 KB) across the slices.
private let panelBlockRows = 192

/// out[n, 16·panels] (rows `outStride` apart) = x[n, cols] · Wᵀ for W given as k-major panels.
///
/// Blocked like a BLAS kernel: blocks of `panelBlockRows` batch rows (whose outputs stay in cache
/// while they are summed), depth slices of `panelDepth` (added to the output after the first), then
/// each panel's slice against every 6-row tile.
func panelBlock(_ out: UnsafeMutablePointer<Float>, outStride: Int, _ x: UnsafePointer<Float>, n: Int,
                _ panels: UnsafePointer<Float>, panels count: Int, cols: Int) {
    let slices = (cols + panelDepth - 1) / panelDepth
    let sliceCols = (cols + slices - 1) / slices                 // even slices: 576 → 3 × 192, 1536 → 8 × 192
    for i0 in stride(from: 0, to: n, by: panelBlockRows) {
        let i1 = min(n, i0 &+ panelBlockRows)
        for k0 in stride(from: 0, to: cols, by: sliceCols) {
            let depth = min(sliceCols, cols - k0)
            let accumulate = k0 > 0
            for p in 0..<count {
                let panel = panels + (p &* panelRows &* cols &+ k0 &* panelRows)
                var i = i0
                while i &+ panelTileRows <= i1 {
                    panelTile6(out + (i &* outStride &+ p &* panelRows), outStride, x + (i &* cols &+ k0), cols, panel,
                               depth: depth, accumulate: accumulate)
                    i &+= panelTileRows
                }
                while i < i1 {                                    // the block's last 1–5 rows, one at a time
                    panelTile1(out + (i &* outStride &+ p &* panelRows), x + (i &* cols &+ k0), panel,
                               depth: depth, accumulate: accumulate)
                    i &+= 1
                }
            }
        }
    }
}

/// The register kernel: out[i][0..<16] (+)= x_i · panel over `depth` columns, for 6 rows i of x
/// (`xStride` floats apart).
@inline(__always)
private func panelTile6(_ out: UnsafeMutablePointer<Float>, _ outStride: Int, _ x: UnsafePointer<Float>, _ xStride: Int,
                        _ panel: UnsafePointer<Float>, depth: Int, accumulate: Bool) {
    let w = UnsafeRawPointer(panel)
    let x0 = x, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    if accumulate {
        func load(_ row: Int, _ half: Int) -> SIMD8<Float> {
            UnsafeRawPointer(out + row &* outStride).loadUnaligned(fromByteOffset: half &* 32, as: SIMD8<Float>.self)
        }
        c00 = load(0, 0); c01 = load(0, 1); c10 = load(1, 0); c11 = load(1, 1); c20 = load(2, 0); c21 = load(2, 1)
        c30 = load(3, 0); c31 = load(3, 1); c40 = load(4, 0); c41 = load(4, 1); c50 = load(5, 0); c51 = load(5, 1)
    }
    @inline(__always)
    func step(_ k: Int) {
        let w0 = w.load(fromByteOffset: k &* 64, as: SIMD8<Float>.self)
        let w1 = w.load(fromByteOffset: k &* 64 &+ 32, as: SIMD8<Float>.self)
        var b = SIMD8<Float>(repeating: x0[k])
        c00 = c00.addingProduct(b, w0); c01 = c01.addingProduct(b, w1)
        b = SIMD8<Float>(repeating: x1[k])
        c10 = c10.addingProduct(b, w0); c11 = c11.addingProduct(b, w1)
        b = SIMD8<Float>(repeating: x2[k])
        c20 = c20.addingProduct(b, w0); c21 = c21.addingProduct(b, w1)
        b = SIMD8<Float>(repeating: x3[k])
        c30 = c30.addingProduct(b, w0); c31 = c31.addingProduct(b, w1)
        b = SIMD8<Float>(repeating: x4[k])
        c40 = c40.addingProduct(b, w0); c41 = c41.addingProduct(b, w1)
        b = SIMD8<Float>(repeating: x5[k])
        c50 = c50.addingProduct(b, w0); c51 = c51.addingProduct(b, w1)
    }
    // Four columns per iteration: the loop's own instructions compete with the loads and FMAs.
    var k = 0
    while k &+ 4 <= depth { step(k); step(k &+ 1); step(k &+ 2); step(k &+ 3); k &+= 4 }
    while k < depth { step(k); k &+= 1 }
    func store(_ row: Int, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>) {
        let o = UnsafeMutableRawPointer(out + row &* outStride)
        o.storeBytes(of: lo, as: SIMD8<Float>.self)
        o.storeBytes(of: hi, toByteOffset: 32, as: SIMD8<Float>.self)
    }
    store(0, c00, c01); store(1, c10, c11); store(2, c20, c21)
    store(3, c30, c31); store(4, c40, c41); store(5, c50, c51)
}

/// One row: out[0..<16] (+)= x · panel over `depth` columns.
@inline(__always)
private func panelTile1(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ panel: UnsafePointer<Float>,
                        depth: Int, accumulate: Bool) {
    let w = UnsafeRawPointer(panel)
    let o = UnsafeMutableRawPointer(out)
    var lo = SIMD8<Float>(), hi = SIMD8<Float>()
    if accumulate {
        lo = o.loadUnaligned(as: SIMD8<Float>.self)
        hi = o.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
    }
    for k in 0..<depth {
        let b = SIMD8<Float>(repeating: x[k])
        lo = lo.addingProduct(b, w.load(fromByteOffset: k &* 64, as: SIMD8<Float>.self))
        hi = hi.addingProduct(b, w.load(fromByteOffset: k &* 64 &+ 32, as: SIMD8<Float>.self))
    }
    o.storeBytes(of: lo, as: SIMD8<Float>.self)
    o.storeBytes(of: hi, toByteOffset: 32, as: SIMD8<Float>.self)
}

// MARK: - Scratch

/// Reusable 64-byte-aligned scratch buffers for parallel tasks (a product's panels, a sequence's
/// attention row): taking one is a lock and a pop, where a fresh allocation of a panel's size would
/// be an mmap and a page fault per 4 KB each time.
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
        let raw = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
        return (raw.bindMemory(to: Float.self, capacity: floats), floats)
    }

    func give(back buffer: (pointer: UnsafeMutablePointer<Float>, floats: Int)) {
        idle.withLock { $0.append((buffer.floats, Int(bitPattern: buffer.pointer))) }
    }
}
