import CKernels
import Foundation
import GGUF
import XCTest
@testable import Transformer

/// 8-bit activations against the 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): the
/// quantised rows, every level against the portable path bit for bit, the product against the F32
/// product of what was quantised, and the models' next tokens against the F32 path.
final class Integer32KernelsTests: XCTestCase {
    static let types: [GGMLType] = [.q8_0, .q4_1, .q5_0, .q4_0, .q5_1]

    /// A quantised activation row read back: values d·q, each block's step d, and the quant sums.
    static func readBack(_ xq: [UInt8], n: Int, cols: Int) -> (values: [Float], step: [Float], sums: [Int], quantSums: [Int]) {
        let rowBytes = pk_q8_32_row_bytes(Int32(cols)), nb = cols / 32, nbp = (nb + 7) / 8 * 8
        var values = [Float](repeating: 0, count: n * cols), step = values
        var sums: [Int] = [], quantSums: [Int] = []
        xq.withUnsafeBytes { raw in
            for i in 0..<n {
                let row = i * rowBytes
                for j in 0..<nb {
                    let d = raw.loadUnaligned(fromByteOffset: row + 4 * j, as: Float.self)
                    sums.append(Int(raw.loadUnaligned(fromByteOffset: row + 4 * nbp + 4 * j, as: Int32.self)))
                    var s = 0
                    for k in 0..<32 {
                        let q = Int(raw.load(fromByteOffset: row + 40 * nbp + 32 * j + k, as: Int8.self))
                        // The transposed copy the batch tiles read holds the same quant.
                        let t = Int(raw.load(fromByteOffset: row + 8 * nbp + 256 * (j / 8) + 32 * (k / 4) + 4 * (j % 8) + k % 4,
                                             as: Int8.self))
                        XCTAssertEqual(t, q, "transposed quant \(k) of block \(j)")
                        values[i * cols + 32 * j + k] = d * Float(q)
                        step[i * cols + 32 * j + k] = d
                        s += q
                    }
                    quantSums.append(s)
                }
            }
        }
        return (values, step, sums, quantSums)
    }

    func testEveryLevelMatchesPortableAndTheProductOfWhatWasQuantised() {
        // Block counts below, at and past a group of 8 (and its remainders); odd weight-row counts.
        let shapes = [(1, 32), (3, 96), (13, 288), (37, 640), (5, 1536)]
        for type in Self.types {
            for (rows, cols) in shapes {
                let data = QuantKernelsTests.randomRows(type, rows: rows, cols: cols, seed: UInt64(type.rawValue) * 131 + UInt64(rows))
                let rowBytes = data.count / rows
                var w = [Float](repeating: 0, count: rows * cols)
                data.withUnsafeBytes { d in w.withUnsafeMutableBufferPointer { e in
                    for r in 0..<rows { dequantize(type, from: d.baseAddress! + r * rowBytes, to: e.baseAddress! + r * cols, count: cols) }
                } }
                for n in Array(1...9) + [33] where cols <= 640 || n <= 5 {
                    // Some zero blocks' worth of values too (an all-zero block has scale 0).
                    let x: [Float] = (0..<(n * cols)).map { (i: Int) -> Float in
                        if i / 32 % 11 == 3 { return 0 }
                        let wave = Float(sin(Double(i) * 0.61 + Double(n)))
                        return wave * Float(1 + i % 7)
                    }
                    var xq = [UInt8](repeating: 0xA5, count: n * pk_q8_32_row_bytes(Int32(cols)))
                    x.withUnsafeBufferPointer { xp in xq.withUnsafeMutableBytes { pk_quantize_q8_32(xp.baseAddress!, Int32(cols), Int32(n), $0.baseAddress!) } }
                    let back = Self.readBack(xq, n: n, cols: cols)
                    XCTAssertEqual(back.sums, back.quantSums, "quant sums")
                    for j in x.indices { XCTAssertLessThanOrEqual(abs(x[j] - back.values[j]), back.step[j] * 0.5001, "quantised value \(j)") }
                    let exact = QuantKernelsTests.reference(w, rows: rows, cols: cols, x, n: n)
                    let onQuantised = QuantKernelsTests.reference(w, rows: rows, cols: cols, back.values, n: n)
                    var portable: [Float] = []
                    for level in QuantKernelsTests.levels {
                        var out = [Float](repeating: .nan, count: n * rows)
                        data.withUnsafeBytes { d in xq.withUnsafeBytes { q in out.withUnsafeMutableBufferPointer { o in
                            pk_product_q8_32(level, Int32(type.rawValue), d.baseAddress!, rowBytes, Int32(cols), Int32(rows),
                                             q.baseAddress!, Int32(n), o.baseAddress!, rows)
                        } } }
                        let what = "\(type.name) level \(level) \(rows)×\(cols) n \(n)"
                        if level == 0 {
                            portable = out
                            for i in 0..<n { for r in 0..<rows {
                                let j = i * rows + r
                                // F32 rounding of the per-block scales and the sums of blocks.
                                XCTAssertLessThan(abs(Double(out[j]) - onQuantised.out[j]), 1e-6 * onQuantised.scale[j] + 1e-30, what)
                                var bound = 0.0
                                for k in 0..<cols { bound += abs(Double(w[r * cols + k])) * Double(back.step[i * cols + k]) * 0.5 }
                                XCTAssertLessThanOrEqual(abs(Double(out[j]) - exact.out[j]), bound + 1e-6 * exact.scale[j], what)
                            } }
                        } else {
                            XCTAssertEqual(out.map(\.bitPattern), portable.map(\.bitPattern), what)
                        }
                    }
                }
            }
        }
    }

    /// `matmul` with 8-bit activations on the models' own 32-value block matrices, decode and
    /// batch, equals the kernel on the same quantised rows (the door quantises and shares out rows
    /// without changing a bit).
    func testMatmulDoorGivesTheKernelsBits() throws {
        let model = try Model(file: try ModelFixture.model().file, activations: .int8)
        for w in [model.weights.blocks[3].wq, model.weights.blocks[3].wDown, model.weights.output] {
            XCTAssertTrue(w.takesInteger32Activations, w.name)
            for n in [1, 2, 7] where w.rows < 10_000 || n == 1 {
                let x: [Float] = (0..<(n * w.cols)).map { i in Float(cos(Double(i) * 0.37)) * Float(1 + i % 5) }
                var out = [Float](repeating: .nan, count: n * w.rows), direct = out
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xp.baseAddress!, w, n: n) } }
                var xq = [UInt8](repeating: 0, count: n * pk_q8_32_row_bytes(Int32(w.cols)))
                x.withUnsafeBufferPointer { xp in xq.withUnsafeMutableBytes { pk_quantize_q8_32(xp.baseAddress!, Int32(w.cols), Int32(n), $0.baseAddress!) } }
                xq.withUnsafeBytes { q in direct.withUnsafeMutableBufferPointer { w.integer32Product($0.baseAddress!, q.baseAddress!, n: n, rows: 0..<w.rows) } }
                XCTAssertEqual(out.map(\.bitPattern), direct.map(\.bitPattern), "\(w.name) n \(n)")
            }
        }
    }

    /// The next token after each prompt (the prompt's batch pass) and after three greedy steps
    /// (decode) with 8-bit activations, against the F32 path on the same tokens.
    private func checkNextTokens(_ model: Model, _ tokenizer: Tokenizer, _ name: String) throws {
        XCTAssertEqual(model.activations, .f32)
        let model8 = try Model(file: model.file, activations: .int8)
        let prompts = ["The capital of France is", "def fibonacci(n):\n    return", "Water boils at a temperature of",
                       "One, two, three, four,"]
        var worst: Float = 0
        for prompt in prompts {
            let ids = tokenizer.encode(prompt).map(Int.init)
            var cache = model.makeCache()
            var logits = [try model.prefill(ids, cache: &cache)]
            var tokens = [Sampler.argmax(logits[0])]
            for _ in 0..<3 {
                logits.append(try model.prefill([tokens.last!], cache: &cache))
                tokens.append(Sampler.argmax(logits.last!))
            }
            var cache8 = model8.makeCache()
            var logits8 = [try model8.prefill(ids, cache: &cache8)]
            for t in tokens.dropLast() { logits8.append(try model8.prefill([t], cache: &cache8)) }
            for (step, (a, b)) in zip(logits, logits8).enumerated() {
                worst = max(worst, relativeError(b, a))
                XCTAssertEqual(Sampler.argmax(b), Sampler.argmax(a), "\(name) '\(prompt)' step \(step)")
            }
        }
        print("\(name) 8-bit activations: worst relative logits difference from F32 \(worst)")
    }

    func testSmolLM2NextTokensMatchF32() throws {
        let model = try ModelFixture.model()
        try checkNextTokens(model, try Tokenizer(gguf: model.file), "SmolLM2")
    }

    func testGemma3NextTokensMatchF32() throws {
        try checkNextTokens(try Gemma3Fixture.model(), try Gemma3Fixture.tokenizer(), "Gemma 3")
    }
}
