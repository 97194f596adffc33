import Foundation
import XCTest
@testable import Transformer

/// The backward pass on the default model: against finite differences of the forward pass, and
/// batched against one sequence at a time.
final class BackwardTests: XCTestCase {
    /// Gradients recorded at `points` by a gradient pass.
    private func gradients(_ model: Model, _ tokens: [[Int]], _ metrics: [GradientMetric], at points: [HookPoint],
                           hooks: HookSet? = nil) throws -> (GradientPass, ActivationCache) {
        let cache = ActivationCache()
        let set = HookSet()
        set.cache(points, into: cache)
        let pass = try model.gradients(tokens, metrics: metrics, hooks: hooks, gradientHooks: set)
        return (pass, cache)
    }

    /// The metric of one forward pass with `direction × scale` added at `point`.
    private func metric(_ model: Model, _ tokens: [Int], _ metric: GradientMetric, adding direction: [Float], at point: HookPoint,
                        position: Int, scale: Float) throws -> Double {
        let hooks = HookSet()
        hooks.add(point, vector: direction, scale: scale, positions: [position])
        var caches = [model.makeCache()]
        let logits = try model.forward([tokens], caches: &caches, hooks: hooks, logits: .last)
        var g = [Float](repeating: 0, count: model.config.vocabularySize)
        return logits.data.withUnsafeBufferPointer { l in
            g.withUnsafeMutableBufferPointer { metric.evaluate(l.baseAddress!, vocab: l.count, gradient: $0.baseAddress!) }
        }
    }

    func testDirectionalDerivativesMatchFiniteDifferences() throws {
        let model = try ModelFixture.model()
        let tokens = [504, 2340, 15548, 314, 279, 3575, 282]   // 7 tokens
        let cases: [(GradientMetric, HookPoint, Int)] = [
            (.logProbability(answer: 7042), .embed, 2),
            (.logitDifference(answer: 7042, against: 3576), .residPre(12), 5),
            (.probability(answer: 7042), .attnOut(20), 6),
            (.logProbability(answer: 7042), .mlpOut(3), 1),
            (.logProbability(answer: 7042), .z(7), 4),
            (.logProbability(answer: 7042), .mlpPre(9), 3),
            (.logProbability(answer: 7042), .v(15), 0),
            (.logProbability(answer: 7042), .q(2), 6),
        ]
        var generator = SplitMix64(seed: 7)
        for (m, point, position) in cases {
            let (_, cache) = try gradients(model, [tokens], [m], at: [point])
            let grad = try XCTUnwrap(cache.activation(point, position: position), "\(point)")
            // A unit direction, and a step small against every activation's scale (embeddings are the smallest).
            // Half of it is the gradient's own direction: a random direction alone in hundreds of
            // dimensions sees a few percent of the gradient's norm, a derivative so small (~4e-4 at
            // blocks.2 q) that the F32 rounding of the two forward passes, which differs between
            // CPUs' BLAS kernels, was 4% of it. Both halves are checked: a gradient wrong in
            // direction or in scale misses the finite difference either way.
            func unit(_ v: [Float]) -> [Float] {
                let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / max(norm, 1e-30) }
            }
            let random = unit(grad.indices.map { _ in gaussian(&generator) })
            let direction = unit(zip(unit(grad), random).map { $0 + $1 })
            let analytic = zip(grad, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            // The step moves the metric well above the F32 rounding of a forward pass (~1e-6 of a
            // log-probability, which differs between kernel paths): a tiny derivative needs a longer step.
            let h = Float(max(2e-2, min(0.5, 1e-4 / max(abs(analytic), 1e-12))))
            let plus = try metric(model, tokens, m, adding: direction, at: point, position: position, scale: h)
            let minus = try metric(model, tokens, m, adding: direction, at: point, position: position, scale: -h)
            let numeric = (plus - minus) / Double(2 * h)
            let scaleOfBoth = max(abs(analytic), abs(numeric), 1e-6)
            XCTAssertLessThan(abs(analytic - numeric) / scaleOfBoth, 0.03, "\(point) at \(position): \(analytic) vs \(numeric)")
        }
    }

    func testBatchedSequencesGetTheirOwnGradients() throws {
        let model = try ModelFixture.model()
        let a = [504, 2340, 15548, 314, 279, 3575, 282], b = [504, 16195, 3180, 314, 279, 3575, 282]
        let ma = GradientMetric.logProbability(answer: 7042), mb = GradientMetric.logitDifference(answer: 7042, against: 3576)
        let points: [HookPoint] = [.embed, .residPre(10), .attnOut(29)]
        let (together, batched) = try gradients(model, [a, b], [ma, mb], at: points)
        let (aloneA, cacheA) = try gradients(model, [a], [ma], at: points)
        let (aloneB, cacheB) = try gradients(model, [b], [mb], at: points)
        XCTAssertEqual(together.metrics[0], aloneA.metrics[0], accuracy: 1e-4)
        XCTAssertEqual(together.metrics[1], aloneB.metrics[0], accuracy: 1e-4)
        for point in points {
            let both = try XCTUnwrap(batched[point]).data, n = both.count / 2
            XCTAssertLessThan(relativeError(Array(both[..<n]), try XCTUnwrap(cacheA[point]).data), 1e-4, "\(point) of a")
            XCTAssertLessThan(relativeError(Array(both[n...]), try XCTUnwrap(cacheB[point]).data), 1e-4, "\(point) of b")
        }
    }

    func testEmbeddingGradientIsTheFirstBlockInputGradient() throws {
        let model = try ModelFixture.model()
        let (_, cache) = try gradients(model, [[504, 2340, 15548, 314]], [.logProbability(answer: 7042)], at: [.embed, .residPre(0)])
        XCTAssertEqual(try XCTUnwrap(cache[.embed]).data, try XCTUnwrap(cache[.residPre(0)]).data)
        XCTAssertGreaterThan(try XCTUnwrap(cache[.embed]).data.map(abs).max() ?? 0, 0)
    }

    func testAttentionWidthPointsAreRefusedWithTheReason() throws {
        let model = try ModelFixture.model()
        let set = HookSet()
        set.add(.pattern(3)) { _ in }
        XCTAssertThrowsError(try model.gradients([[504, 2340]], metrics: [.logProbability(answer: 7042)], gradientHooks: set)) { error in
            guard case TransformerError.noGradient(let point) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(point, "blocks.3.attn.hook_pattern")
            XCTAssertTrue("\(error)".contains("attn.hook_z"))
        }
    }
}

/// A standard normal draw (Box–Muller) from the model's seeded generator.
private func gaussian(_ rng: inout SplitMix64) -> Float {
    let u = max(rng.nextUnitFloat(), 1e-7), v = rng.nextUnitFloat()
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
}
