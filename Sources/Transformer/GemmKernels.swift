import Foundation

// MARK: - Unpacked F32 products for prompt-sized batches
//
// BLAS packs both operands into panels on every call. For a prompt of a few dozen tokens the
// weight matrix is the big operand, so packing copies as many bytes as the product reads, and
// copying costs about as long as multiplying. Here the row-major
// F32 weights are read in place: a block of weight rows small enough to stay in L2 is multiplied by
// every tile of activation rows in turn, so each weight is fetched from memory once per product.

/// Activation rows per tile and weight rows per tile of the register kernel (4×3 dot products,
/// twelve 8-lane accumulators).
private let tileRows = 4, tileWeights = 3

/// Weight rows per L2 block: ~96 KB whatever the width (576 or 1536 columns here).
@inline(__always)
private func blockRows(cols: Int) -> Int { max(tileWeights, (24_576 / max(cols, 1)) / tileWeights * tileWeights) }

/// out[n, rows] = x[n, cols] · Wᵀ with W row-major F32 `[rows, cols]`, both cores sharing the weight
/// rows. `cols` must be a multiple of 8.
func gemmUnpacked(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int,
                  _ w: UnsafePointer<Float>, rows: Int, cols: Int) {
    let block = blockRows(cols: cols)
    let blocks = (rows + block - 1) / block
    nonisolated(unsafe) let o = out
    WorkerPool.shared.run(blocks) { b in
        let lo = b * block, hi = min(rows, lo + block)
        gemmBlock(o, x, n: n, w, rows: lo..<hi, outStride: rows, cols: cols)
    }
}

/// Weight rows `range` of out[n, outStride] = x · Wᵀ: every 4-row tile of x against 3 weight rows at a time.
func gemmBlock(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int,
                       _ w: UnsafePointer<Float>, rows range: Range<Int>, outStride: Int, cols: Int) {
    var i = 0
    while i &+ tileRows <= n {
        var r = range.lowerBound
        while r &+ tileWeights <= range.upperBound {
            dot4x3(out + (i &* outStride &+ r), outStride, x + i &* cols, w + r &* cols, cols: cols)
            r &+= tileWeights
        }
        while r < range.upperBound {
            for t in 0..<tileRows { out[(i &+ t) &* outStride &+ r] = dotF32(w + r &* cols, x + (i &+ t) &* cols, count: cols) }
            r &+= 1
        }
        i &+= tileRows
    }
    while i < n {
        for r in range { out[i &* outStride &+ r] = dotF32(w + r &* cols, x + i &* cols, count: cols) }
        i &+= 1
    }
}

/// The register kernel: out[t][j] = x_t · w_j for 4 activation rows t and 3 weight rows j
/// (rows `cols` floats apart; `cols` a multiple of 8).
@inline(__always)
private func dot4x3(_ out: UnsafeMutablePointer<Float>, _ outStride: Int, _ x: UnsafePointer<Float>,
                    _ w: UnsafePointer<Float>, cols: Int) {
    let xr = UnsafeRawPointer(x), wr = UnsafeRawPointer(w)
    let rowBytes = cols &* 4
    var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>()
    var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>()
    var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a22 = SIMD8<Float>()
    var a30 = SIMD8<Float>(), a31 = SIMD8<Float>(), a32 = SIMD8<Float>()
    var k = 0
    while k < rowBytes {
        let w0 = wr.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
        let w1 = wr.loadUnaligned(fromByteOffset: k &+ rowBytes, as: SIMD8<Float>.self)
        let w2 = wr.loadUnaligned(fromByteOffset: k &+ 2 &* rowBytes, as: SIMD8<Float>.self)
        let x0 = xr.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
        a00 = a00.addingProduct(x0, w0); a01 = a01.addingProduct(x0, w1); a02 = a02.addingProduct(x0, w2)
        let x1 = xr.loadUnaligned(fromByteOffset: k &+ rowBytes, as: SIMD8<Float>.self)
        a10 = a10.addingProduct(x1, w0); a11 = a11.addingProduct(x1, w1); a12 = a12.addingProduct(x1, w2)
        let x2 = xr.loadUnaligned(fromByteOffset: k &+ 2 &* rowBytes, as: SIMD8<Float>.self)
        a20 = a20.addingProduct(x2, w0); a21 = a21.addingProduct(x2, w1); a22 = a22.addingProduct(x2, w2)
        let x3 = xr.loadUnaligned(fromByteOffset: k &+ 3 &* rowBytes, as: SIMD8<Float>.self)
        a30 = a30.addingProduct(x3, w0); a31 = a31.addingProduct(x3, w1); a32 = a32.addingProduct(x3, w2)
        k &+= 32
    }
    out[0] = a00.sum(); out[1] = a01.sum(); out[2] = a02.sum()
    let o1 = out + outStride, o2 = o1 + outStride, o3 = o2 + outStride
    o1[0] = a10.sum(); o1[1] = a11.sum(); o1[2] = a12.sum()
    o2[0] = a20.sum(); o2[1] = a21.sum(); o2[2] = a22.sum()
    o3[0] = a30.sum(); o3[1] = a31.sum(); o3[2] = a32.sum()
}

// MARK: - Q4_1 weights dequantised on the fly
//
// Streaming the F32 copy moves 4 bytes a weight per prompt pass, and memory bandwidth bounds the
// products. The Q4_1 blocks are 0.625 bytes a weight: each block of weight rows is dequantised into
// a scratch that stays in L2 and multiplied there, so memory moves a sixth as much.

/// Weight rows per dequantised block: 24 (a multiple of the 3-row tile), ≤ 144 KB of scratch.
private let dequantisedBlockRows = 24

/// out[n, rows] = x[n, cols] · Wᵀ for a Q4_1 matrix, both cores sharing the row blocks.
func gemmQ4_1(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int, _ w: WeightMatrix) {
    let rows = w.rows, cols = w.cols
    let blocks = (rows + dequantisedBlockRows - 1) / dequantisedBlockRows
    nonisolated(unsafe) let o = out
    WorkerPool.shared.run(blocks) { b in
        let lo = b * dequantisedBlockRows, hi = min(rows, lo + dequantisedBlockRows)
        let buffer = ScratchPool.shared.take(floats: dequantisedBlockRows * cols)
        defer { ScratchPool.shared.give(back: buffer) }
        let scratch = buffer.pointer
        dequantizeQ4_1Rows(w, lo..<hi, into: scratch)
        // The scratch holds rows lo..<hi: shift the output so its row 0 lands in column lo.
        gemmBlock(o + lo, x, n: n, scratch, rows: 0..<(hi - lo), outStride: rows, cols: cols)
    }
}

/// Rows `range` of a Q4_1 matrix as F32 `[range.count, cols]`, eight lanes at a time, with the GGUF
/// dequantiser's arithmetic (d·q + m, multiply then add): bit-identical to the F32 copy.
func dequantizeQ4_1Rows(_ w: WeightMatrix, _ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    let half = UnsafePointer(halfToFloatTable)
    let blocks = w.cols / 32
    let nibble = SIMD8<UInt32>(repeating: 0xF)
    for (i, r) in range.enumerated() {
        let row = w.quantised + r &* w.bytesPerRow
        let y = UnsafeMutableRawPointer(out + i &* w.cols)
        for j in 0..<blocks {
            let b = row + j &* 20
            let d = SIMD8<Float>(repeating: half[Int(b.loadUnaligned(as: UInt16.self))])
            let m = SIMD8<Float>(repeating: half[Int(b.loadUnaligned(fromByteOffset: 2, as: UInt16.self))])
            // Bytes 0–7 and 8–15: low nibbles are elements 0–15, high nibbles 16–31.
            // (Integer→float through toFloat: the generic SIMD conversions are scalar loops.)
            let lo = widenBytes(b + 4), hi = widenBytes(b + 12)
            let o = j &* 128
            y.storeBytes(of: d * toFloat(lo & nibble) + m, toByteOffset: o, as: SIMD8<Float>.self)
            y.storeBytes(of: d * toFloat(hi & nibble) + m, toByteOffset: o &+ 32, as: SIMD8<Float>.self)
            y.storeBytes(of: d * toFloat(lo &>> 4) + m, toByteOffset: o &+ 64, as: SIMD8<Float>.self)
            y.storeBytes(of: d * toFloat(hi &>> 4) + m, toByteOffset: o &+ 96, as: SIMD8<Float>.self)
        }
    }
}
