import XCTest
@testable import Transformer

/// `Model.forward(residuals:startLayers:caches:)`: a pass resumed at block L from the residuals and
/// KV cache a full pass recorded is that full pass (the resume door of docs/architecture.md:
/// the layers below the patched one are reused), alone, patched, and batched with sequences of other lengths joining at other blocks.
final class ResumedForwardTests: XCTestCase {
    let prompt = [6403, 1980, 253, 655, 28, 665, 436, 253, 1345]   // "Once upon a time, there was a little"
    let other = [504, 7011, 282, 3380, 314, 260, 2784, 282, 6102]

    /// A full pass of `tokens`: logits at every position, the KV cache, and resid_pre of every block
    /// plus the final residual (index `layerCount`), each `[T, d_model]`.
    func fullPass(_ model: Model, _ tokens: [Int], hooks: HookSet = HookSet()) throws -> (Tensor, KVCache, [[Float]]) {
        let layers = model.config.layerCount
        var residuals = [[Float]](repeating: [], count: layers + 1)
        for l in 0..<layers { hooks.add(.residPre(l)) { residuals[l] = $0.copy() } }
        hooks.add(.residPost(layers - 1)) { residuals[layers] = $0.copy() }
        var caches = [model.makeCache()]
        let logits = try model.forward([tokens], caches: &caches, hooks: hooks, logits: .all)
        return (logits, caches[0], residuals)
    }

    /// Rows `position...` of a `[T, width]` array.
    func rows(_ a: [Float], from position: Int, width: Int) -> [Float] { Array(a[(position * width)...]) }

    func testResumingAtAnyBlockReproducesTheFullPass() throws {
        let model = try ModelFixture.model()
        let c = model.config, d = c.modelDim, v = c.vocabularySize
        let (full, cache, residuals) = try fullPass(model, prompt)
        // Start blocks 0, a middle one and the last; positions giving both the BLAS (> 4 rows) and the
        // quantised-kernel (≤ 4 rows) paths; start `layerCount` runs only the final norm and unembedding.
        for layer in [0, 1, 14, 29, 30] {
            for position in [0, 3, 6, 8] {
                var caches = [cache]
                caches[0].truncate(to: position, fromLayer: layer)
                XCTAssertEqual(caches[0].length, position)
                XCTAssertEqual(caches[0].positions(layer: max(layer - 1, 0)), layer == 0 ? position : prompt.count)
                let logits = try model.forward(residuals: [rows(residuals[layer], from: position, width: d)], startLayers: [layer],
                                               caches: &caches, logits: .all)
                XCTAssertEqual(logits.shape, [1, prompt.count - position, v])
                let err = relativeError(logits.data[...], full.data[(position * v)...])
                XCTAssertLessThanOrEqual(err, 1e-5, "resumed at block \(layer), position \(position)")
                XCTAssertEqual(caches[0].length, prompt.count)
                for l in 0..<c.layerCount {
                    XCTAssertEqual(caches[0].positions(layer: l), prompt.count)
                    XCTAssertLessThanOrEqual(relativeError(caches[0].keys[l], cache.keys[l]), 1e-5, "keys of layer \(l)")
                    XCTAssertLessThanOrEqual(relativeError(caches[0].values[l], cache.values[l]), 1e-5, "values of layer \(l)")
                }
            }
        }
    }

    /// A pass resumed at L with a hook patching block L equals the full pass with the same hook, and a
    /// resumed pass whose start row is another prompt's resid_pre equals the full pass patching it in.
    func testPatchedResumedPassEqualsPatchedFullPass() throws {
        let model = try ModelFixture.model()
        let d = model.config.modelDim, v = model.config.vocabularySize
        let (_, cache, residuals) = try fullPass(model, prompt)
        let (_, _, donor) = try fullPass(model, other)
        let (layer, position) = (11, 4)
        let donorRow = Array(donor[layer][(position * d)..<((position + 1) * d)])

        // resid_pre: the patched row is the start itself.
        let patched = HookSet()
        patched.replace(.residPre(layer), positions: [position], with: donorRow)
        var fresh = [model.makeCache()]
        let expected = try model.forward([prompt], caches: &fresh, hooks: patched, logits: .all)
        var start = rows(residuals[layer], from: position, width: d)
        start.replaceSubrange(0..<d, with: donorRow)
        var caches = [cache]
        caches[0].truncate(to: position, fromLayer: layer)
        let resumed = try model.forward(residuals: [start], startLayers: [layer], caches: &caches, logits: .all)
        XCTAssertLessThanOrEqual(relativeError(resumed.data[...], expected.data[(position * v)...]), 1e-5)
        XCTAssertGreaterThan(relativeError(resumed.data[...], try fullPass(model, prompt).0.data[(position * v)...]), 1e-3,
                             "the patch changes the logits")

        // attn_out: a hook inside the start block.
        let attn = Array(repeating: Float(0.05), count: d)
        let hooked = HookSet()
        hooked.replace(.attnOut(layer), positions: [position], with: attn)
        fresh = [model.makeCache()]
        let expectedAttn = try model.forward([prompt], caches: &fresh, hooks: hooked, logits: .last)
        caches = [cache]
        caches[0].truncate(to: position, fromLayer: layer)
        let resumedAttn = try model.forward(residuals: [rows(residuals[layer], from: position, width: d)], startLayers: [layer],
                                            caches: &caches, hooks: hooked, logits: .last)
        XCTAssertLessThanOrEqual(relativeError(resumedAttn.data, expectedAttn.data), 1e-5)
    }

    /// Sequences of different lengths joining at different blocks, in one pass, each equal to its own full pass;
    /// hooks see the sequences that have joined, each with its own row count.
    func testRaggedBatchJoiningAtDifferentBlocks() throws {
        let model = try ModelFixture.model()
        let d = model.config.modelDim, v = model.config.vocabularySize
        let (fullA, cacheA, residualsA) = try fullPass(model, prompt)
        let (fullB, cacheB, residualsB) = try fullPass(model, other)
        // (prompt, start layer, position): sorted by start layer.
        let plan: [(Int, Int, Int)] = [(0, 0, 2), (1, 5, 7), (0, 5, 8), (1, 17, 1), (0, 30, 4)]
        var residuals: [[Float]] = [], caches: [KVCache] = []
        for (which, layer, position) in plan {
            residuals.append(rows((which == 0 ? residualsA : residualsB)[layer], from: position, width: d))
            var cache = which == 0 ? cacheA : cacheB
            cache.truncate(to: position, fromLayer: layer)
            caches.append(cache)
        }
        let seen = HookSet()
        var joined: [Int: [Int]] = [:]
        for l in [0, 5, 16, 17, 29] { seen.add(.residPost(l)) { joined[l] = $0.counts } }
        let logits = try model.forward(residuals: residuals, startLayers: plan.map(\.1), caches: &caches, hooks: seen)
        XCTAssertEqual(logits.shape, [plan.count, 1, v])
        for (b, (which, layer, _)) in plan.enumerated() {
            let full = which == 0 ? fullA : fullB
            let n = full.shape[1]
            let err = relativeError(logits.data[(b * v)..<((b + 1) * v)], full.data[((n - 1) * v)..<(n * v)])
            XCTAssertLessThanOrEqual(err, 1e-5, "sequence \(b), joining at block \(layer)")
            XCTAssertEqual(caches[b].length, n)
        }
        XCTAssertEqual(joined[0], [7])
        XCTAssertEqual(joined[5], [7, 2, 1])
        XCTAssertEqual(joined[16], [7, 2, 1])
        XCTAssertEqual(joined[17], [7, 2, 1, 8])
        XCTAssertEqual(joined[29], [7, 2, 1, 8])
    }

    func testResumingChecksItsInputs() throws {
        let model = try ModelFixture.model()
        let d = model.config.modelDim
        let (_, cache, residuals) = try fullPass(model, prompt)
        var cut = cache
        cut.truncate(to: 3, fromLayer: 4)
        let start = rows(residuals[4], from: 3, width: d)
        var caches = [cut, cut]
        func refuses(_ expected: TransformerError, _ body: () throws -> Tensor, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual($0 as? TransformerError, expected, line: line) }
        }
        refuses(.unsortedStartLayers([5, 4])) { try model.forward(residuals: [start, start], startLayers: [5, 4], caches: &caches) }
        caches = [cut]
        refuses(.cacheNotCut(sequence: 0, length: cut.length, startLayer: 6, rows: start.count / d)) {
            try model.forward(residuals: [start], startLayers: [6], caches: &caches)
        }
        refuses(.partialRows(sequence: 0, count: start.count - 1, width: d)) {
            try model.forward(residuals: [Array(start.dropLast())], startLayers: [4], caches: &caches)
        }
        refuses(.layerOutOfRange(layer: 31, layerCount: model.config.layerCount)) {
            try model.forward(residuals: [start], startLayers: [31], caches: &caches)
        }
        XCTAssertEqual(caches[0], cut, "a refused pass leaves the cache as it was")

        // An interrupted pass leaves the caches as they were.
        let cancelled = TaskContext(isCancelled: { true })
        XCTAssertThrowsError(try model.forward(residuals: [start], startLayers: [4], caches: &caches, context: cancelled)) {
            XCTAssertTrue($0 is CancelledError)
        }
        XCTAssertEqual(caches[0], cut)
    }
}
