import XCTest
@testable import Transformer

/// The small ops against values worked out by hand.
final class OpsTests: XCTestCase {
    func testRMSNormScalesByTheRootMeanSquare() {
        let x: [Float] = [3, 4, 0, 0, 1, 1, 1, 1]          // two rows of 4
        var out = [Float](repeating: 0, count: 8)
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer {
            rmsnorm($0.baseAddress!, xp.baseAddress!, [1, 2, 1, 1], n: 2, eps: 0)
        } }
        // Row 0: rms = sqrt(25/4) = 2.5.
        XCTAssertEqual(out[0], 1.2, accuracy: 1e-6)
        XCTAssertEqual(out[1], 3.2, accuracy: 1e-6)
        XCTAssertEqual(Array(out[4...]), [1, 2, 1, 1])
    }

    func testSoftmaxTreatsMinusInfinityAsZeroWeight() {
        var x: [Float] = [0, log(3), -.infinity]
        x.withUnsafeMutableBufferPointer { softmax($0.baseAddress!, count: 3) }
        XCTAssertEqual(x[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(x[1], 0.75, accuracy: 1e-6)
        XCTAssertEqual(x[2], 0)
    }

    func testSwiGLU() {
        let gate: [Float] = [0, 2], up: [Float] = [5, 3]
        var out: [Float] = [9, 9]
        out.withUnsafeMutableBufferPointer { swiglu($0.baseAddress!, gate, up, count: 2) }
        XCTAssertEqual(out[0], 0)
        XCTAssertEqual(out[1], 2 / (1 + exp(-2)) * 3, accuracy: 1e-6)
    }

    func testRopeStylesAgreeUpToTheConverterPermutation() {
        // A head of 8: adjacent pairs (0,1)(2,3)... on x equal halves pairs (0,4)(1,5)... on the
        // permuted head — the permutation llama.cpp's converter applies to llama Q/K weights.
        let frequencies = ropeFrequencies(ropeDim: 8, base: 10_000)
        XCTAssertEqual(frequencies[0], 1)
        XCTAssertEqual(frequencies[1], 0.1, accuracy: 1e-7)
        let x: [Float] = (0..<8).map { Float($0) * 0.3 - 1 }
        let perm = [0, 4, 1, 5, 2, 6, 3, 7]                  // adjacent slot i holds halves slot perm[i]
        var adjacent = x
        var halves = [Float](repeating: 0, count: 8)
        for i in 0..<8 { halves[perm[i]] = x[i] }
        adjacent.withUnsafeMutableBufferPointer { rope($0.baseAddress!, positions: [7], heads: 1, headDim: 8, frequencies: frequencies, style: .adjacent) }
        halves.withUnsafeMutableBufferPointer { rope($0.baseAddress!, positions: [7], heads: 1, headDim: 8, frequencies: frequencies, style: .halves) }
        for i in 0..<8 { XCTAssertEqual(adjacent[i], halves[perm[i]], accuracy: 1e-6) }
        // Position 0 is the identity; rotation keeps each pair's length.
        var zero = x
        zero.withUnsafeMutableBufferPointer { rope($0.baseAddress!, positions: [0], heads: 1, headDim: 8, frequencies: frequencies, style: .adjacent) }
        XCTAssertEqual(zero, x)
        XCTAssertEqual(adjacent[0] * adjacent[0] + adjacent[1] * adjacent[1], x[0] * x[0] + x[1] * x[1], accuracy: 1e-5)
    }

    /// The threshold scan (k ≤ 64) against a full sort, on rows whose length is not a multiple of
    /// its sixteen lanes and whose values repeat, so ties must keep the lower index first.
    func testTopKScanMatchesSortWithTies() {
        var rng = SplitMix64(seed: 7)
        for count in [1, 15, 16, 17, 1000, 4099] {
            let row = (0..<count).map { _ in Float(Int(rng.next() % 37)) - 18 }
            let sorted = row.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            for k in [1, 3, 16, 64] where k <= count {
                let top = Sampler.topK(row, k)
                XCTAssertEqual(top.map(\.index), sorted.prefix(k).map(\.offset), "count \(count), k \(k)")
                XCTAssertEqual(top.map(\.value), sorted.prefix(k).map(\.element))
            }
        }
    }

    func testTopKAndArgmax() {
        let logits: [Float] = [0.5, 3, -1, 3, 2]
        XCTAssertEqual(Sampler.argmax(logits), 1)
        XCTAssertEqual(Sampler.topK(logits, 3).map(\.index), [1, 3, 4])
        var a = SplitMix64(seed: 1), b = SplitMix64(seed: 1), c = SplitMix64(seed: 2)
        let first = a.next()
        XCTAssertEqual(first, b.next())
        XCTAssertNotEqual(first, c.next())
    }

    /// logSumExp (vector exp, float partial sums) against a double-precision sum, over a
    /// vocabulary-sized row with a scalar tail, a row with -infinity entries, and a short row.
    func testLogSumExpMatchesDoublePrecision() {
        let rows: [[Float]] = [
            (0..<49_157).map { Float(sin(Double($0) * 0.61)) * 12 - 3 },
            [-.infinity, 2, -.infinity, 0.5, 7, -40, -.infinity, 1, 3],
            [4.25, -1],
        ]
        for row in rows {
            let m = Double(row.max()!)
            let ref = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
            XCTAssertEqual(row.withUnsafeBufferPointer(logSumExp), ref, accuracy: 2e-6, "\(row.count) entries")
        }
        XCTAssertEqual([Float]().withUnsafeBufferPointer(logSumExp), -.infinity)
    }
}

final class SamplerTests: XCTestCase {
    func testTopKSamplingNeverLeavesTheTopK() {
        var sampler = Sampler(temperature: 5, topK: 2, seed: 3)
        let logits: [Float] = [1, 0.9, 5, 4.5, 0]
        var seen = Set<Int>()
        for _ in 0..<200 { seen.insert(sampler.sample(logits)) }
        XCTAssertEqual(seen, [2, 3])
    }
}
