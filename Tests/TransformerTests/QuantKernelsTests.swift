import Foundation
import XCTest
@testable import Transformer

/// The decode kernels (GGUF blocks and the row-interleaved repack) against double-precision
/// products over the dequantised weights.
final class QuantKernelsTests: XCTestCase {
    /// out[n, rows] = x · Wᵀ in double precision over the F32 copy.
    private func reference(_ w: WeightMatrix, _ x: [Float], n: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * w.rows)
        for i in 0..<n {
            for r in 0..<w.rows {
                var sum = 0.0
                for c in 0..<w.cols { sum += Double(w.f32![r * w.cols + c]) * Double(x[i * w.cols + c]) }
                out[i * w.rows + r] = Float(sum)
            }
        }
        return out
    }

    func testSeveralRowsAndEveryShapeMatchF32Products() throws {
        let model = try ModelFixture.model()
        let block = model.weights.blocks[7]
        // q (576 × 576), k (192 rows), down (1536 columns), and the Q8_0 tied output (49152 rows).
        for w in [block.wq, block.wk, block.wDown, model.weights.output] {
            XCTAssertEqual(w.interleaved != nil, kernelsUseInterleavedBlocks, w.name)
            let n = 3
            // Mixed signs and magnitudes, so a wrong lane order or nibble cannot cancel out.
            let x = (0..<(n * w.cols)).map { Float(sin(Double($0) * 0.61)) * Float(1 + $0 % 7) }
            var direct = [Float](repeating: 0, count: n * w.rows)
            x.withUnsafeBufferPointer { xp in
                direct.withUnsafeMutableBufferPointer { w.matvec($0.baseAddress!, xp.baseAddress!, n: n) }
            }
            XCTAssertLessThanOrEqual(relativeError(direct, reference(w, x, n: n)), 2e-6, w.name)
        }
    }

    func testRangesOffTheGroupGridUseTheGGUFBlocks() throws {
        let model = try ModelFixture.model()
        let w = model.weights.blocks[2].wUp
        let x = (0..<w.cols).map { Float(cos(Double($0) * 0.29)) }
        var out = [Float](repeating: .nan, count: w.rows)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { o in
                let input = KernelInput(xp.baseAddress!, n: 1, cols: w.cols)
                // One group of 8 (Q4_1 products take pairs), then ranges off the grid: all take the GGUF path.
                w.matvecRows(o.baseAddress!, input, 0..<8)
                w.matvecRows(o.baseAddress!, input, 8..<13)
                w.matvecRows(o.baseAddress!, input, 13..<w.rows)
            }
        }
        XCTAssertLessThanOrEqual(relativeError(out, reference(w, x, n: 1)), 2e-6)
    }
}

/// The decode attention rows against plain loops.
final class DecodeAttentionTests: XCTestCase {
    func testScoresAndValuesRowsMatchPlainLoops() {
        // Head dims with and without the 8-key and 64-column fast paths; counts off the 8-key grid.
        for hd in [64, 32, 128, 72] {
            for count in [0, 1, 5, 8, 13, 40] {
                let stride = hd * 3 + 8                      // keys of one head inside wider rows, as in the cache
                let keys = (0..<(max(count, 1) * stride)).map { Float(sin(Double($0) * 0.173)) }
                let q = (0..<hd).map { Float(cos(Double($0) * 0.71)) }
                var row = [Float](repeating: .nan, count: count)
                keys.withUnsafeBufferPointer { k in q.withUnsafeBufferPointer { qp in row.withUnsafeMutableBufferPointer { r in
                    guard let base = r.baseAddress else { return }
                    attentionScoresRow(base, qp.baseAddress!, keys: k.baseAddress!, stride: stride, count: count, headDim: hd, scale: 0.125)
                } } }
                for j in 0..<count {
                    var sum = 0.0
                    for d in 0..<hd { sum += Double(keys[j * stride + d]) * Double(q[d]) }
                    XCTAssertEqual(row[j], Float(0.125 * sum), accuracy: 1e-5, "hd \(hd) count \(count) key \(j)")
                }
                let p = (0..<max(count, 1)).map { Float(1 + $0 % 3) / Float(2 * max(count, 1)) }
                var z = [Float](repeating: .nan, count: hd)
                keys.withUnsafeBufferPointer { v in p.withUnsafeBufferPointer { pp in z.withUnsafeMutableBufferPointer { zp in
                    attentionValuesRow(zp.baseAddress!, pp.baseAddress!, values: v.baseAddress!, stride: stride, count: count, headDim: hd)
                } } }
                for d in 0..<hd {
                    var sum = 0.0
                    for j in 0..<count { sum += Double(p[j]) * Double(keys[j * stride + d]) }
                    XCTAssertEqual(z[d], Float(sum), accuracy: 1e-5, "hd \(hd) count \(count) column \(d)")
                }
            }
        }
    }
}

/// Decode over a context long enough that the attention heads are shared out on the worker pool.
final class LongContextDecodeTests: XCTestCase {
    func testLongContextDecodeMatchesFullRecompute() throws {
        let model = try ModelFixture.model()
        let v = model.config.vocabularySize
        let tokens = (0..<160).map { 200 + ($0 * 7919) % 20_000 }
        // 9 heads × 150 keys × 64 dims: above runDecodeTasks' threshold, so the heads run in parallel.
        XCTAssertGreaterThanOrEqual(model.config.headCount * 150 * model.config.headDim, 1 << 16)
        let full = try model.run(tokens: tokens, logits: .all).logits
        var cache = model.makeCache()
        _ = try model.prefill(Array(tokens[0..<150]), cache: &cache)
        for p in 150..<160 {
            let logits = try model.prefill([tokens[p]], cache: &cache)
            let expected = Array(full.data[p * v..<(p + 1) * v])
            XCTAssertLessThanOrEqual(relativeError(logits, expected), 1e-5, "decode at position \(p)")
            XCTAssertEqual(Sampler.argmax(logits), Sampler.argmax(expected))
        }
    }
}

/// The vectorised argmax picks what the plain first-largest loop picks.
final class ArgmaxTests: XCTestCase {
    private func reference(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    func testFirstLargestWithTiesNaNsAndTails() {
        var rng = SplitMix64(seed: 7)
        for count in [1, 7, 16, 17, 100, 49_152] {
            for trial in 0..<6 {
                // Few distinct values, so ties are common; NaNs and infinities sprinkled in.
                var x = (0..<count).map { _ in Float(Int(rng.next() % 9)) - 4 }
                if trial == 1 { x[count / 2] = .nan }
                if trial == 2 { x[0] = .nan }
                if trial == 3 { x[count - 1] = .infinity }
                if trial == 4 { x = x.map { _ in -.infinity } }
                XCTAssertEqual(Sampler.argmax(x), reference(x), "count \(count) trial \(trial)")
            }
        }
    }
}
