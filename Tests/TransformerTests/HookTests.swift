import XCTest
@testable import Transformer

final class HookPointTests: XCTestCase {
    func testNamesRoundTripAndFollowTransformerLens() {
        let all = HookPoint.all(layers: 3)
        XCTAssertEqual(all.count, 2 + 3 * 15)
        for point in all { XCTAssertEqual(HookPoint(name: point.name), point, point.name) }
        XCTAssertEqual(HookPoint.residPre(3).name, "blocks.3.hook_resid_pre")
        XCTAssertEqual(HookPoint.ln1Normalized(3).name, "blocks.3.ln1.hook_normalized")
        XCTAssertEqual(HookPoint.q(3).name, "blocks.3.attn.hook_q")
        XCTAssertEqual(HookPoint.pattern(3).name, "blocks.3.attn.hook_pattern")
        XCTAssertEqual(HookPoint.mlpPre(3).name, "blocks.3.mlp.hook_pre")
        XCTAssertEqual(HookPoint.embed.name, "hook_embed")
        XCTAssertEqual(HookPoint.lnFinalNormalized.name, "ln_final.hook_normalized")
        XCTAssertNil(HookPoint(name: "blocks.x.hook_resid_pre"))
        XCTAssertNil(HookPoint(name: "blocks.3.hook_nothing"))
        XCTAssertNil(HookPoint(name: "blocks.-1.hook_resid_pre"))
    }

    func testShapesPerPosition() {
        let c = ModelConfig(architecture: "llama", layerCount: 2, modelDim: 576, ffnDim: 1536, headCount: 9,
                            kvHeadCount: 3, vocabularySize: 100, tiedOutput: true)
        XCTAssertEqual(HookPoint.residPost(0).shape(config: c, keys: 5), [576])
        XCTAssertEqual(HookPoint.q(0).shape(config: c, keys: 5), [9, 64])
        XCTAssertEqual(HookPoint.k(0).shape(config: c, keys: 5), [3, 64])
        XCTAssertEqual(HookPoint.pattern(1).shape(config: c, keys: 5), [9, 5])
        XCTAssertEqual(HookPoint.mlpPost(1).shape(config: c, keys: 5), [1536])
    }
}

/// Hooks on the real model: cache identities and interventions.
final class HookTests: XCTestCase {
    let tokens = [504, 7011, 282, 3380, 314]   // "The opposite of hot is"

    func testCachedResidualsSatisfyTheResidualIdentities() throws {
        let model = try ModelFixture.model()
        let layers = [0, 7, 29]
        let points = layers.flatMap { [HookPoint.residPre($0), .attnOut($0), .residMid($0), .mlpOut($0), .residPost($0)] }
        let cache = try model.run(tokens: tokens, cache: points + [.embed, .pattern(3)]).activations
        for l in layers {
            let pre = try XCTUnwrap(cache[.residPre(l)]).data, attn = try XCTUnwrap(cache[.attnOut(l)]).data
            let mid = try XCTUnwrap(cache[.residMid(l)]).data, mlp = try XCTUnwrap(cache[.mlpOut(l)]).data
            let post = try XCTUnwrap(cache[.residPost(l)]).data
            // Exact equality: the stream is updated in place by exactly these additions.
            XCTAssertEqual(zip(pre, attn).map(+), mid, "resid_mid = resid_pre + attn_out at layer \(l)")
            XCTAssertEqual(zip(mid, mlp).map(+), post, "resid_post = resid_mid + mlp_out at layer \(l)")
            XCTAssertNotEqual(pre, post)
        }
        XCTAssertEqual(cache[.embed]?.data, cache[.residPre(0)]?.data)
        // Pattern rows are causal probability distributions.
        let pattern = try XCTUnwrap(cache[.pattern(3)])
        XCTAssertEqual(pattern.shape, [1, 5, 9, 5])
        for t in 0..<5 { for h in 0..<9 {
            let row = pattern.data[(t * 9 + h) * 5..<(t * 9 + h + 1) * 5]
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
            for j in (t + 1)..<5 { XCTAssertEqual(row[row.startIndex + j], 0) }
        } }
    }

    func testZeroingTheResidualChangesLogitsAndNoOpWriteDoesNot() throws {
        let model = try ModelFixture.model()
        let clean = try model.run(tokens: tokens).logits

        let noOp = HookSet()
        noOp.add(.residPost(10)) { view in
            for t in 0..<view.positions { let r = view.row(batch: 0, position: t); for i in r.indices { r[i] = r[i] } }
        }
        XCTAssertEqual(try model.run(tokens: tokens, hooks: noOp).logits, clean)

        let zero = HookSet()
        zero.replace(.residPost(10), positions: [4], with: [Float](repeating: 0, count: 576))
        let ablated = try model.run(tokens: tokens, hooks: zero).logits
        let v = model.config.vocabularySize
        // Positions before the ablated one are untouched (causality); the last one changes.
        XCTAssertEqual(Array(ablated.data[0..<4 * v]), Array(clean.data[0..<4 * v]))
        XCTAssertGreaterThan(relativeError(Array(ablated.data[4 * v..<5 * v]), Array(clean.data[4 * v..<5 * v])), 0.05)

        // Adding zero is a no-op; adding a vector at one position changes that position only.
        let addZero = HookSet()
        addZero.add(.residPre(5), vector: [Float](repeating: 0, count: 576), positions: [2])
        XCTAssertEqual(try model.run(tokens: tokens, hooks: addZero).logits, clean)
    }

    func testPatchingACachedActivationReproducesTheSourceRun() throws {
        let model = try ModelFixture.model()
        let source = [504, 7011, 282, 3380, 314]
        let target = [504, 7011, 282, 3380, 314]
        let layer = 12
        let sourceRun = try model.run(tokens: source, cache: [.residPost(layer)])
        // Patch every position of resid_post into an identical prompt: logits must be identical.
        let hooks = HookSet()
        for p in 0..<5 {
            let value = try XCTUnwrap(sourceRun.activations.activation(.residPost(layer), position: p))
            hooks.replace(.residPost(layer), positions: [p], with: value)
        }
        XCTAssertEqual(try model.run(tokens: target, hooks: hooks).logits, sourceRun.logits)
        // A wrong-width vector is refused with an actionable error.
        let bad = HookSet()
        bad.replace(.residPost(layer), positions: [0], with: [1, 2, 3])
        XCTAssertThrowsError(try model.run(tokens: target, hooks: bad)) { error in
            XCTAssertTrue("\(error)".contains("576"))
        }
    }
}

final class EarlyStopTests: XCTestCase {
    func testStoppingAfterALayerGivesTheSameActivationsAndLeavesTheCache() throws {
        let model = try ModelFixture.model()
        let tokens = [504, 7011, 282, 3380, 314]
        let full = try model.run(tokens: tokens, cache: [.residPost(6)]).activations
        let cache = ActivationCache()
        let hooks = HookSet()
        hooks.cache([.residPost(6), .residPost(7)], into: cache)
        var caches = [model.makeCache()]
        _ = try model.prefill([1, 2], cache: &caches[0])
        let before = caches[0]
        var fresh = [model.makeCache()]
        let logits = try model.forward([tokens], caches: &fresh, hooks: hooks, stopAfterLayer: 6)
        XCTAssertEqual(logits.shape, [1, 0, model.config.vocabularySize])
        XCTAssertEqual(cache[.residPost(6)], full[.residPost(6)])
        XCTAssertNil(cache[.residPost(7)], "layers above the stop do not run")
        XCTAssertEqual(fresh[0].length, 0)
        _ = try model.forward([tokens], caches: &caches, stopAfterLayer: 3)
        XCTAssertTrue(caches[0] == before, "an early stop leaves a used cache as it was")
        XCTAssertThrowsError(try model.forward([tokens], caches: &caches, stopAfterLayer: 30)) {
            XCTAssertTrue("\($0)".contains("0...29"))
        }
    }
}

final class RunConvenienceTests: XCTestCase {
    func testRunDoesNotModifyTheCallersHookSetAndCachesPatchedValues() throws {
        let model = try ModelFixture.model()
        let hooks = HookSet()
        let zeros = [Float](repeating: 0, count: 576)
        hooks.replace(.residPost(3), positions: [1], with: zeros)
        let run = try model.run(tokens: [504, 7011, 282], cache: [.residPost(3)], hooks: hooks)
        XCTAssertEqual(hooks.points, [.residPost(3)])
        XCTAssertEqual(hooks.copy().points, [.residPost(3)])
        XCTAssertEqual(run.activations.activation(.residPost(3), position: 1), zeros, "the cache sees the patched value")
        XCTAssertNotEqual(run.activations.activation(.residPost(3), position: 0), zeros)
        XCTAssertEqual(run.kvCache.length, 3)
    }
}
