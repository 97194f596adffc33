import XCTest
@testable import Transformer

/// The KV-cache decode path, the quantised kernels, and batching agree with full recomputation.
final class DecodeAndBatchTests: XCTestCase {
    let prompt = [6403, 1980, 253, 655, 28, 665, 436, 253]   // "Once upon a time, there was a"

    func testIncrementalDecodeMatchesFullRecompute() throws {
        let model = try ModelFixture.model()
        let v = model.config.vocabularySize
        let full = try model.run(tokens: prompt).logits
        // Prefill 5 tokens, then feed the remaining 3 one at a time (quantised matvec path).
        var cache = model.makeCache()
        _ = try model.prefill(Array(prompt[0..<5]), cache: &cache)
        for p in 5..<8 {
            let logits = try model.prefill([prompt[p]], cache: &cache)
            let err = relativeError(logits, Array(full.data[p * v..<(p + 1) * v]))
            XCTAssertLessThanOrEqual(err, 1e-5, "decode at position \(p)")
            XCTAssertEqual(Sampler.argmax(logits), Sampler.argmax(Array(full.data[p * v..<(p + 1) * v])))
        }
        XCTAssertEqual(cache.length, 8)
    }

    func testQuantisedKernelsMatchDequantisedProducts() throws {
        let model = try ModelFixture.model()
        let block = model.weights.blocks[3]
        let x = (0..<576).map { Float(sin(Double($0) * 0.37)) }
        for w in [block.wq, block.wGate, model.weights.tokenEmbedding] {
            var direct = [Float](repeating: 0, count: w.rows)
            var reference = [Float](repeating: 0, count: w.rows)
            var row = [Float](repeating: 0, count: w.cols)
            x.withUnsafeBufferPointer { xp in
                direct.withUnsafeMutableBufferPointer { matmul($0.baseAddress!, xp.baseAddress!, w, n: 1) }
                // Reference in double precision over each dequantised row.
                for r in 0..<w.rows {
                    row.withUnsafeMutableBufferPointer { w.dequantizeRows(r..<r + 1, into: $0.baseAddress!) }
                    var sum = 0.0
                    for i in 0..<w.cols { sum += Double(row[i]) * Double(xp[i]) }
                    reference[r] = Float(sum)
                }
            }
            XCTAssertTrue(w.hasDirectKernel, "\(w.name) is \(w.type.name)")
            XCTAssertLessThanOrEqual(relativeError(direct, reference), 2e-6, w.name)
        }
    }

    func testBatchOfThreeEqualsThreeSingleRuns() throws {
        let model = try ModelFixture.model()
        let sequences = [[504, 7011, 282, 3380, 314], [1604, 3987, 46477, 24, 94], [33, 28, 216, 34, 28]]
        var caches = sequences.map { _ in model.makeCache() }
        let batched = try model.forward(sequences, caches: &caches)
        let v = model.config.vocabularySize
        XCTAssertEqual(batched.shape, [3, 5, v])
        for (b, seq) in sequences.enumerated() {
            let single = try model.run(tokens: seq).logits
            let err = relativeError(Array(batched.data[b * 5 * v..<(b + 1) * 5 * v]), single.data)
            XCTAssertLessThanOrEqual(err, 1e-5, "sequence \(b)")
        }
    }

    func testSharedPrefixCacheServesManyContinuations() throws {
        let model = try ModelFixture.model()
        let prefix = Array(prompt[0..<6])
        let continuations = [[436, 253], [314, 253], [28, 216]]
        var prefixCache = model.makeCache()
        _ = try model.prefill(prefix, cache: &prefixCache)
        var caches = continuations.map { _ in prefixCache }
        let batched = try model.forward(continuations, caches: &caches, logits: .last)
        XCTAssertEqual(prefixCache.length, 6, "the shared prefix is not modified")
        let v = model.config.vocabularySize
        for (b, cont) in continuations.enumerated() {
            let single = try model.run(tokens: prefix + cont).logits
            let err = relativeError(Array(batched.data[b * v..<(b + 1) * v]), Array(single.data[7 * v..<8 * v]))
            XCTAssertLessThanOrEqual(err, 1e-5, "continuation \(b)")
            XCTAssertEqual(caches[b].length, 8)
        }
    }

    func testHooksSeeAbsolutePositionsDuringDecode() throws {
        let model = try ModelFixture.model()
        var seen: [Int] = []
        let hooks = HookSet()
        hooks.add(.residPost(0)) { view in seen.append(view.startPositions[0]); XCTAssertEqual(view.positions, seen.count == 1 ? 4 : 1) }
        _ = try model.generate(prompt: Array(prompt[0..<4]), maxTokens: 3, hooks: hooks)
        XCTAssertEqual(seen, [0, 4, 5])
    }

    func testSeededSamplingIsReproducibleAndTemperatureZeroIsGreedy() throws {
        let model = try ModelFixture.model()
        let a = try model.generate(prompt: prompt, maxTokens: 6, sampler: Sampler(temperature: 1.0, seed: 42))
        let b = try model.generate(prompt: prompt, maxTokens: 6, sampler: Sampler(temperature: 1.0, seed: 42))
        XCTAssertEqual(a, b)
        var sampler = Sampler(temperature: 0)
        XCTAssertEqual(sampler.sample([0.1, 3, -2, 2.9]), 1)
        var hot = Sampler(temperature: 1, seed: 7)
        var counts = [0, 0]
        for _ in 0..<2000 { counts[hot.sample([0, Float(log(3.0))])] += 1 }
        XCTAssertEqual(Double(counts[1]) / 2000, 0.75, accuracy: 0.04)   // p = 3/4
    }

    func testBadInputIsRejectedWithActionableErrors() throws {
        let model = try ModelFixture.model()
        XCTAssertThrowsError(try model.run(tokens: [])) { XCTAssertTrue("\($0)".contains("nonzero")) }
        XCTAssertThrowsError(try model.run(tokens: [1, 999_999])) { XCTAssertTrue("\($0)".contains("999999")) }
        var caches = [model.makeCache(), model.makeCache()]
        XCTAssertThrowsError(try model.forward([[1, 2], [3]], caches: &caches))
        let cancelled = TaskContext(isCancelled: { true })
        XCTAssertThrowsError(try model.run(tokens: [1, 2], context: cancelled)) { XCTAssertTrue($0 is CancelledError) }
    }

    func testConfigFromTheDefaultModel() throws {
        let c = try ModelFixture.model().config
        XCTAssertEqual(c.architecture, "llama")
        XCTAssertEqual([c.layerCount, c.modelDim, c.ffnDim, c.headCount, c.kvHeadCount, c.headDim, c.vocabularySize],
                       [30, 576, 1536, 9, 3, 64, 49152])
        XCTAssertEqual(c.ropeBase, 100_000)
        XCTAssertTrue(c.tiedOutput)
        XCTAssertFalse(c.hasQKVBias)
        XCTAssertEqual(c.parameterCount, 134_515_008)
    }
}

final class AttentionChunkingTests: XCTestCase {
    func testChunkedAttentionEqualsWholeAttention() throws {
        let model = try ModelFixture.model()
        let tokens = [6403, 1980, 253, 655, 28, 665, 436, 253]
        // A pattern hook forces the whole [B, T, H, keys] tensor; no hook uses query chunks.
        let hooked = HookSet()
        hooked.add(.pattern(5)) { _ in }
        let whole = try model.run(tokens: tokens, hooks: hooked).logits
        let saved = Model.attentionChunkFloats
        defer { Model.attentionChunkFloats = saved }
        Model.attentionChunkFloats = 3 * model.config.headCount * tokens.count   // 3 query rows at a time
        let chunked = try model.run(tokens: tokens).logits
        XCTAssertLessThanOrEqual(relativeError(chunked.data, whole.data), 1e-5)   // sgemm blocking differs
        XCTAssertEqual(Sampler.argmax(Array(chunked.data.suffix(model.config.vocabularySize))),
                       Sampler.argmax(Array(whole.data.suffix(model.config.vocabularySize))))
    }
}

final class BatchedGenerationTests: XCTestCase {
    func testLockstepGenerationEqualsSingleGenerationsAndHonoursPerSequenceHooks() throws {
        let model = try ModelFixture.model()
        let prompts = [[504, 7011, 282, 3380, 314], [6403, 1980, 253, 655, 28]]
        let batched = try model.generate(prompts: prompts, maxTokens: 6)
        for (b, prompt) in prompts.enumerated() {
            XCTAssertEqual(batched[b], try model.generate(prompt: prompt, maxTokens: 6))
        }
        // A large steering vector on sequence 1 only changes sequence 1.
        let direction = try model.embeddings(of: [7011])   // any direction of the right width
        let hooks = HookSet()
        hooks.add(.residPost(8), vector: direction, scale: 40, batch: 1)
        let steered = try model.generate(prompts: prompts, maxTokens: 6, hooks: hooks)
        XCTAssertEqual(steered[0], batched[0])
        XCTAssertNotEqual(steered[1], batched[1])
    }
}

final class InterruptedRunTests: XCTestCase {
    struct Stop: Error {}

    func testAThrowingHookLeavesTheCacheUsable() throws {
        let model = try ModelFixture.model()
        let prompt = [504, 7011, 282, 3380, 314]
        var cache = model.makeCache()
        _ = try model.prefill(Array(prompt[0..<3]), cache: &cache)
        let before = cache
        let hooks = HookSet()
        hooks.add(.residPost(12)) { _ in throw Stop() }
        XCTAssertThrowsError(try model.prefill([prompt[3]], cache: &cache, hooks: hooks)) { XCTAssertTrue($0 is Stop) }
        XCTAssertTrue(cache == before, "the interrupted step added nothing")
        // Continuing after the interruption gives the uninterrupted logits.
        _ = try model.prefill([prompt[3]], cache: &cache)
        let last = try model.prefill([prompt[4]], cache: &cache)
        let full = try model.run(tokens: prompt).logits
        let v = model.config.vocabularySize
        XCTAssertLessThanOrEqual(relativeError(last, Array(full.data[4 * v..<5 * v])), 1e-5)
    }
}
