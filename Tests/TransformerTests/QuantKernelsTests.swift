import CKernels
import Foundation
import GGUF
import XCTest
@testable import Transformer

/// The C kernels at every instruction-set level this CPU runs, on every tensor type, against the
/// GGUF dequantiser and double-precision products; odd shapes and remainders throughout.
final class QuantKernelsTests: XCTestCase {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]

    /// Levels to compare: the portable path and every SIMD path this CPU has.
    static var levels: [Int32] { (0...pk_best_level()).map { Int32($0) } }

    /// `rows` rows of random blocks of `type` over `cols` values: random quants, and scales (f16
    /// fields) that are finite and moderate, so every bit of the quants matters; one block in eight
    /// takes binary16 subnormal scales, as real K-quant files mostly do.
    static func randomRows(_ type: GGMLType, rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        let blocks = cols / type.blockSize, blockBytes = type.bytesPerBlock
        var bytes = (0..<(rows * blocks * blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func put16(_ v: UInt16, _ at: Int) { bytes[at] = UInt8(v & 0xFF); bytes[at + 1] = UInt8(v >> 8) }
        func half(_ scale: Double) -> UInt16 {
            let tiny = rng.next() % 8 == 0 ? 1e-4 : 1
            return Float16(Float((Double(rng.next() % 1000) / 1000 - 0.3) * scale * tiny)).bitPattern
        }
        for b in 0..<(rows * blocks) {
            let o = b * blockBytes
            switch type {
            case .f32:
                let v = Float((Double(rng.next() % 20_000) / 10_000 - 1)).bitPattern
                for k in 0..<4 { bytes[o + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) }
            case .f16: put16(half(4), o)
            case .bf16: put16(UInt16(Float((Double(rng.next() % 20_000) / 10_000 - 1)).bitPattern >> 16), o)
            case .q4_0, .q5_0, .q8_0: put16(half(0.1), o)
            case .q4_1, .q5_1, .q4_K, .q5_K: put16(half(0.1), o); put16(half(0.1), o + 2)
            case .q6_K: put16(half(0.1), o + 208)
            default: break
            }
        }
        return bytes
    }

    /// out[n, rows] = x · Wᵀ in double precision, and Σ|x·w| per output (the scale of its rounding).
    static func reference(_ w: [Float], rows: Int, cols: Int, _ x: [Float], n: Int) -> (out: [Double], scale: [Double]) {
        var out = [Double](repeating: 0, count: n * rows), scale = out
        for i in 0..<n { for r in 0..<rows {
            var s = 0.0, a = 0.0
            for k in 0..<cols { let p = Double(x[i * cols + k]) * Double(w[r * cols + k]); s += p; a += abs(p) }
            out[i * rows + r] = s; scale[i * rows + r] = a
        } }
        return (out, scale)
    }

    func testEveryHalfAtEveryLevelIsTheReadersFloat() {
        // All 65,536 binary16 patterns as one F16 row: subnormals, zeros, infinities and NaNs.
        let bits = (0...UInt16.max).map { $0 }
        for level in Self.levels {
            var out = [Float](repeating: 0, count: bits.count)
            bits.withUnsafeBytes { d in
                out.withUnsafeMutableBufferPointer {
                    pk_dequantize_rows(level, Int32(GGMLType.f16.rawValue), d.baseAddress!, d.count, Int32(bits.count), 1, $0.baseAddress!)
                }
            }
            for (h, value) in zip(bits, out) {
                let reader = halfToFloat(h)
                // vcvtph2ps quiets signalling NaNs; a NaN stays a NaN.
                if value.bitPattern != reader.bitPattern && !(value.isNaN && reader.isNaN) {
                    return XCTFail("level \(level), half 0x\(String(h, radix: 16)): \(value) vs \(reader)")
                }
            }
        }
    }

    func testEveryTypeAtEveryLevelMatchesTheDequantiserAndDoublePrecision() {
        for type in Self.types {
            let plain = type.blockSize == 1
            // Odd row counts (tile and chunk remainders); plain types also take odd columns.
            let b = type.blockSize
            for (rows, cols) in [(1, plain ? 33 : b), (13, plain ? 48 : 3 * b), (37, plain ? 45 : 2 * b), (26, plain ? 77 : b)] {
                let data = Self.randomRows(type, rows: rows, cols: cols, seed: UInt64(type.rawValue) * 1000 + UInt64(rows))
                let rowBytes = data.count / rows
                var expected = [Float](repeating: 0, count: rows * cols)
                data.withUnsafeBytes { d in
                    expected.withUnsafeMutableBufferPointer { e in
                        for r in 0..<rows { dequantize(type, from: d.baseAddress! + r * rowBytes, to: e.baseAddress! + r * cols, count: cols) }
                    }
                }
                for n in [1, 3, 4, 9] {
                    let x: [Float] = (0..<(n * cols)).map { i in
                        let wave = Float(sin(Double(i) * 0.61 + Double(n)))
                        return wave * Float(1 + i % 7)
                    }
                    let ref = Self.reference(expected, rows: rows, cols: cols, x, n: n)
                    var byLevel: [[Float]] = []
                    for level in Self.levels {
                        var rowsOut = [Float](repeating: .nan, count: rows * cols)
                        var out = [Float](repeating: .nan, count: n * rows)
                        for chunk in [1, 5, rows] {
                            var scratch = [Float](repeating: .nan, count: chunk * cols)
                            data.withUnsafeBytes { d in
                                rowsOut.withUnsafeMutableBufferPointer {
                                    pk_dequantize_rows(level, Int32(type.rawValue), d.baseAddress!, rowBytes, Int32(cols), Int32(rows), $0.baseAddress!)
                                }
                                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { sp in
                                    pk_product(level, Int32(type.rawValue), d.baseAddress!, rowBytes, Int32(cols), Int32(rows),
                                               xp.baseAddress!, Int32(n), o.baseAddress!, rows, sp.baseAddress!, Int32(chunk))
                                } } }
                            }
                            let what = "\(type.name) level \(level) \(rows)×\(cols) n \(n) chunk \(chunk)"
                            XCTAssertEqual(rowsOut.map(\.bitPattern), expected.map(\.bitPattern), "dequantised rows, " + what)
                            var worst = 0.0
                            for j in out.indices { worst = max(worst, abs(Double(out[j]) - ref.out[j]) / max(ref.scale[j], 1e-30)) }
                            // F32 accumulation over `cols` terms: a few ulp of the terms' magnitude.
                            XCTAssertLessThan(worst, 1e-6, what)
                        }
                        byLevel.append(out)
                    }
                    // The SIMD paths and the portable path: the same sums up to F32 rounding.
                    for l in byLevel.indices.dropFirst() {
                        for j in byLevel[0].indices {
                            XCTAssertEqual(byLevel[l][j], byLevel[0][j], accuracy: Float(ref.scale[j]) * 1e-6 + 1e-30,
                                           "\(type.name) level \(l) vs portable, \(rows)×\(cols) n \(n)")
                        }
                    }
                }
            }
        }
    }

    /// 8-bit activations against Q4_K, Q5_K and Q6_K blocks: every level quantises a row to the same
    /// bytes, the quantised row keeps every value within half a step, the integer product equals
    /// the F32 product of the dequantised weights and the quantised activations within F32
    /// rounding, stays within the quantisation's own bound of the exact product, and every level
    /// returns the portable path's bits.
    func testIntegerActivationsAtEveryLevel() {
        let blockBytes = pk_q8_row_bytes(256)
        for type in [GGMLType.q4_K, .q5_K, .q6_K] {
            for (rows, cols) in [(1, 256), (13, 768), (37, 512)] {
                let data = Self.randomRows(type, rows: rows, cols: cols, seed: UInt64(type.rawValue) * 77 + UInt64(rows))
                let rowBytes = data.count / rows
                var w = [Float](repeating: 0, count: rows * cols)
                data.withUnsafeBytes { d in w.withUnsafeMutableBufferPointer { e in
                    for r in 0..<rows { dequantize(type, from: d.baseAddress! + r * rowBytes, to: e.baseAddress! + r * cols, count: cols) }
                } }
                for n in [1, 3, 5] {
                    let x: [Float] = (0..<(n * cols)).map { i in Float(sin(Double(i) * 0.61 + Double(n))) * Float(1 + i % 7) }
                    var xq = [UInt8](repeating: 0, count: n * pk_q8_row_bytes(Int32(cols)))
                    x.withUnsafeBufferPointer { xp in xq.withUnsafeMutableBytes { pk_quantize_q8(0, xp.baseAddress!, Int32(cols), Int32(n), $0.baseAddress!) } }
                    for level in Self.levels where level != 0 {
                        var other = [UInt8](repeating: 0xFF, count: xq.count)
                        x.withUnsafeBufferPointer { xp in other.withUnsafeMutableBytes { pk_quantize_q8(level, xp.baseAddress!, Int32(cols), Int32(n), $0.baseAddress!) } }
                        XCTAssertEqual(other, xq, "quantised activations at level \(level)")
                    }
                    // Block layout: the F32 scale, 256 signed quants, 16 sums of 16 quants.
                    var xd = [Float](repeating: 0, count: n * cols), step = xd
                    xq.withUnsafeBytes { raw in
                        for b in 0..<(n * cols / 256) {
                            let base = b * blockBytes
                            let d = raw.loadUnaligned(fromByteOffset: base, as: Float.self)
                            for g in 0..<16 {
                                var sum = 0
                                for k in 0..<16 {
                                    let q = Int(raw.load(fromByteOffset: base + 4 + 16 * g + k, as: Int8.self))
                                    xd[256 * b + 16 * g + k] = d * Float(q); step[256 * b + 16 * g + k] = d
                                    sum += q
                                }
                                XCTAssertEqual(Int(raw.loadUnaligned(fromByteOffset: base + 260 + 2 * g, as: Int16.self)), sum)
                            }
                        }
                    }
                    for j in x.indices { XCTAssertLessThanOrEqual(abs(x[j] - xd[j]), step[j] * 0.5001, "quantised value \(j)") }
                    let exact = Self.reference(w, rows: rows, cols: cols, x, n: n)
                    let onQuantised = Self.reference(w, rows: rows, cols: cols, xd, n: n)
                    var portable: [Float] = []
                    for level in Self.levels {
                        var out = [Float](repeating: .nan, count: n * rows)
                        data.withUnsafeBytes { d in xq.withUnsafeBytes { q in out.withUnsafeMutableBufferPointer { o in
                            pk_product_q8(level, Int32(type.rawValue), d.baseAddress!, rowBytes, Int32(cols), Int32(rows),
                                          q.baseAddress!, Int32(n), o.baseAddress!, rows)
                        } } }
                        let what = "\(type.name) level \(level) \(rows)×\(cols) n \(n)"
                        for i in 0..<n { for r in 0..<rows {
                            let j = i * rows + r
                            XCTAssertLessThan(abs(Double(out[j]) - onQuantised.out[j]), 1e-6 * onQuantised.scale[j] + 1e-30, what)
                            var bound = 0.0
                            for k in 0..<cols { bound += abs(Double(w[r * cols + k])) * Double(step[i * cols + k]) * 0.5 }
                            XCTAssertLessThanOrEqual(abs(Double(out[j]) - exact.out[j]), bound + 1e-6 * exact.scale[j], what)
                        } }
                        if level == 0 { portable = out } else { XCTAssertEqual(out.map(\.bitPattern), portable.map(\.bitPattern), what) }
                    }
                }
            }
        }
    }

    /// Batches of 8-bit activations against K-quant blocks: every level returns the portable
    /// path's bits, each row of a batch the bits the decode product gives it alone, the product
    /// equals the F32 product of the dequantised weights and the dequantised activations within F32
    /// rounding and stays within the quantisation's bound of the exact product. Row counts off the
    /// sixteen-row panel and the six-row tile, and batches past the 64 rows summed at a time.
    func testIntegerBatchProductsAtEveryLevel() {
        let blockBytes = pk_q8_row_bytes(256)
        for type in [GGMLType.q4_K, .q5_K, .q6_K] {
            for (rows, cols) in [(1, 256), (7, 768), (16, 256), (33, 512)] {
                let data = Self.randomRows(type, rows: rows, cols: cols, seed: UInt64(type.rawValue) * 91 + UInt64(rows))
                let rowBytes = data.count / rows
                var w = [Float](repeating: 0, count: rows * cols)
                data.withUnsafeBytes { d in w.withUnsafeMutableBufferPointer { e in
                    for r in 0..<rows { dequantize(type, from: d.baseAddress! + r * rowBytes, to: e.baseAddress! + r * cols, count: cols) }
                } }
                for n in Array(1...9) + [33, 70] {
                    let x: [Float] = (0..<(n * cols)).map { i in Float(sin(Double(i) * 0.37 + Double(n))) * Float(1 + i % 5) }
                    var xq = [UInt8](repeating: 0, count: n * pk_q8_row_bytes(Int32(cols)))
                    x.withUnsafeBufferPointer { xp in xq.withUnsafeMutableBytes { pk_quantize_q8(0, xp.baseAddress!, Int32(cols), Int32(n), $0.baseAddress!) } }
                    // The values the 8-bit rows stand for, and each value's step.
                    var xd = [Float](repeating: 0, count: n * cols), step = xd
                    xq.withUnsafeBytes { raw in
                        for b in 0..<(n * cols / 256) {
                            let d = raw.loadUnaligned(fromByteOffset: b * blockBytes, as: Float.self)
                            for k in 0..<256 {
                                xd[256 * b + k] = d * Float(raw.load(fromByteOffset: b * blockBytes + 4 + k, as: Int8.self))
                                step[256 * b + k] = d
                            }
                        }
                    }
                    // Each row alone through the decode product (portable).
                    var alone = [Float](repeating: .nan, count: n * rows)
                    data.withUnsafeBytes { d in xq.withUnsafeBytes { q in alone.withUnsafeMutableBufferPointer { o in
                        for i in 0..<n {
                            pk_product_q8(0, Int32(type.rawValue), d.baseAddress!, rowBytes, Int32(cols), Int32(rows),
                                          q.baseAddress! + i * Int(pk_q8_row_bytes(Int32(cols))), 1, o.baseAddress! + i * rows, rows)
                        }
                    } } }
                    let exact = Self.reference(w, rows: rows, cols: cols, x, n: n)
                    let onQuantised = Self.reference(w, rows: rows, cols: cols, xd, n: n)
                    var portableLayout: [UInt8] = []
                    for level in Self.levels {
                        let what = "\(type.name) level \(level) \(rows)×\(cols) n \(n)"
                        var xb = [UInt8](repeating: 0xFF, count: n * pk_q8_batch_row_bytes(Int32(cols)))
                        x.withUnsafeBufferPointer { xp in xb.withUnsafeMutableBytes { pk_quantize_q8_batch(level, xp.baseAddress!, Int32(cols), Int32(n), $0.baseAddress!) } }
                        if level == 0 { portableLayout = xb } else { XCTAssertEqual(xb, portableLayout, "batch layout, " + what) }
                        // Wider output rows than the matrix: the product writes only its own columns.
                        let stride = rows + 3
                        var out = [Float](repeating: .nan, count: n * stride)
                        data.withUnsafeBytes { d in xb.withUnsafeBytes { q in out.withUnsafeMutableBufferPointer { o in
                            pk_product_q8_batch(level, Int32(type.rawValue), d.baseAddress!, rowBytes, Int32(cols), Int32(rows),
                                                q.baseAddress!, Int32(n), o.baseAddress!, stride)
                        } } }
                        for i in 0..<n {
                            XCTAssertEqual(out[(i * stride + rows)..<((i + 1) * stride)].filter { !$0.isNaN }, [], "columns past the rows, " + what)
                            for r in 0..<rows {
                                let got = out[i * stride + r], j = i * rows + r
                                XCTAssertEqual(got.bitPattern, alone[j].bitPattern, "row \(i) alone, weight row \(r), " + what)
                                XCTAssertLessThan(abs(Double(got) - onQuantised.out[j]), 1e-6 * onQuantised.scale[j] + 1e-30, what)
                                var bound = 0.0
                                for k in 0..<cols { bound += abs(Double(w[r * cols + k])) * Double(step[i * cols + k]) * 0.5 }
                                XCTAssertLessThanOrEqual(abs(Double(got) - exact.out[j]), bound + 1e-6 * exact.scale[j], what)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The `matmul` door with 8-bit activations on Gemma 3's K-quant matrices: a batch (prompt)
    /// gives each row the bits a decode step gives it, and differs from the F32 model's product
    /// by about the quantisation's error.
    func testIntegerMatmulBatchRowsEqualDecodeRows() throws {
        let f32 = try Gemma3Fixture.model()
        let int8 = try Model(file: GGUFFile(path: Gemma3Fixture.path), activations: .int8)
        func picked(_ m: Model) -> [WeightMatrix] {
            let matrices = m.weights.blocks.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.wGate, $0.wUp, $0.wDown] }
            return [GGMLType.q4_K, .q6_K].compactMap { t in matrices.first { $0.type == t && $0.takesIntegerActivations } }
        }
        let pairs = Array(zip(picked(int8), picked(f32)))
        XCTAssertEqual(pairs.count, 2, "Gemma 3 270M has Q4_K and Q6_K matrices of whole 256-value blocks")
        for (w, w32) in pairs {
            XCTAssertEqual(w.activations, .int8)
            let n = 7
            XCTAssertGreaterThanOrEqual(n, kernelConfiguration.batchFromRows)
            let x: [Float] = (0..<(n * w.cols)).map { i in Float(cos(Double(i) * 0.29)) * Float(1 + i % 3) }
            var batch = [Float](repeating: .nan, count: n * w.rows), single = batch, reference = batch
            x.withUnsafeBufferPointer { xp in
                batch.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xp.baseAddress!, w, n: n) }
                single.withUnsafeMutableBufferPointer { o in
                    for i in 0..<n { matmul(o.baseAddress! + i * w.rows, xp.baseAddress! + i * w.cols, w, n: 1) }
                }
                reference.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xp.baseAddress!, w32, n: n) }
            }
            XCTAssertEqual(batch.map(\.bitPattern), single.map(\.bitPattern), "\(w.name) \(w.type.name)")
            XCTAssertNotEqual(batch.map(\.bitPattern), reference.map(\.bitPattern), w.name)
            XCTAssertLessThan(relativeError(batch, reference), 0.05, w.name)
        }
    }

    /// The `matmul` door on the model's matrices (Q4_1 and Q8_0), decode and batch sizes, against
    /// double precision over the dequantised rows.
    func testMatmulOnModelMatricesMatchesDequantiseThenMultiply() throws {
        let model = try ModelFixture.model()
        let block = model.weights.blocks[7]
        for w in [block.wq, block.wk, block.wDown, model.weights.output] {
            var rows = [Float](repeating: 0, count: w.rows * w.cols)
            rows.withUnsafeMutableBufferPointer { w.dequantizeRows(0..<w.rows, into: $0.baseAddress!) }
            for n in [1, 3, 6] where w.rows < 10_000 || n == 1 {
                let x: [Float] = (0..<(n * w.cols)).map { i in Float(sin(Double(i) * 0.61)) * Float(1 + i % 7) }
                var out = [Float](repeating: .nan, count: n * w.rows)
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xp.baseAddress!, w, n: n) } }
                let ref = Self.reference(rows, rows: w.rows, cols: w.cols, x, n: n)
                var worst = 0.0
                for j in out.indices { worst = max(worst, abs(Double(out[j]) - ref.out[j]) / max(ref.scale[j], 1e-30)) }
                XCTAssertLessThan(worst, 1e-6, "\(w.name) n \(n)")
            }
        }
    }

    /// The dequantised rows of the model's matrices are the GGUF reader's, bit for bit.
    func testModelRowsAreTheGGUFReadersRows() throws {
        let model = try ModelFixture.model()
        for w in [model.weights.blocks[0].wq, model.weights.blocks[7].wDown, model.weights.tokenEmbedding] {
            var mine = [Float](repeating: .nan, count: 5 * w.cols), theirs = mine
            mine.withUnsafeMutableBufferPointer { w.dequantizeRows(10..<15, into: $0.baseAddress!) }
            let info = model.file.tensor(named: w.name)!
            try theirs.withUnsafeMutableBufferPointer { try model.file.dequantizeRows(info, rows: 10..<15, into: $0.baseAddress!) }
            XCTAssertEqual(mine.map(\.bitPattern), theirs.map(\.bitPattern), w.name)
        }
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
