import XCTest
import Transformer
import Interpretability

/// Logistic probes: the optimiser, the split, and a real probe with its control task.
final class ProbeTests: XCTestCase {
    /// Two Gaussian blobs in 20 dimensions, separated along axis 0.
    private func blobs(_ n: Int, classes: Int = 2, seed: UInt64 = 1) -> ([[Float]], [Int]) {
        var rng = SplitMix64(seed: seed)
        var x: [[Float]] = [], y: [Int] = []
        for i in 0..<n {
            let c = i % classes
            var row = (0..<20).map { _ in Float(rng.nextUnitFloat() - 0.5) }
            row[c] += 3
            x.append(row); y.append(c)
        }
        return (x, y)
    }

    func testLBFGSFindsTheMinimumOfAQuadratic() {
        // f(x) = Σ i·(x_i − i)², minimum at x_i = i.
        var x = [Double](repeating: 0, count: 8)
        let (_, value) = LBFGS.minimize(&x) { x, g in
            var f = 0.0
            for i in 0..<x.count { let w = Double(i + 1); f += w * (x[i] - Double(i)) * (x[i] - Double(i)); g[i] = 2 * w * (x[i] - Double(i)) }
            return f
        }
        XCTAssertEqual(value, 0, accuracy: 1e-9)
        for i in 0..<8 { XCTAssertEqual(x[i], Double(i), accuracy: 1e-4) }
    }

    func testProbeSeparatesBlobsAndIsMultiClass() throws {
        let (x, y) = blobs(300, classes: 3)
        let probe = try LogisticProbe.train(features: x, labels: y, classCount: 3)
        XCTAssertGreaterThan(probe.accuracy(features: x, labels: y), 0.97)
        let (tx, ty) = blobs(90, classes: 3, seed: 9)
        XCTAssertGreaterThan(probe.accuracy(features: tx, labels: ty), 0.95)
        XCTAssertGreaterThan(probe.iterations, 0)
    }

    func testStrongerRegularisationShrinksTheWeights() throws {
        let (x, y) = blobs(100)
        let weak = try LogisticProbe.train(features: x, labels: y, classCount: 2, l2: 1e-3)
        let strong = try LogisticProbe.train(features: x, labels: y, classCount: 2, l2: 1)
        func norm(_ p: LogisticProbe) -> Double { p.weights.flatMap { $0 }.reduce(0) { $0 + $1 * $1 } }
        XCTAssertLessThan(norm(strong), norm(weak) / 4)
    }

    func testSplitIsStratifiedSeededAndDisjoint() throws {
        let labels = (0..<50).map { $0 < 30 ? 0 : 1 }
        let a = try ProbeSplit.stratified(labels: labels, classCount: 2, trainFraction: 0.7, seed: 3)
        let b = try ProbeSplit.stratified(labels: labels, classCount: 2, trainFraction: 0.7, seed: 3)
        let c = try ProbeSplit.stratified(labels: labels, classCount: 2, trainFraction: 0.7, seed: 4)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(Set(a.train).intersection(a.test), [])
        XCTAssertEqual(Set(a.train + a.test), Set(0..<50))
        XCTAssertEqual(a.train.filter { labels[$0] == 0 }.count, 21)
        XCTAssertEqual(a.train.filter { labels[$0] == 1 }.count, 14)
        XCTAssertThrowsError(try ProbeSplit.stratified(labels: labels, classCount: 2, trainFraction: 1.5, seed: 0))
    }

    /// Sentences whose label (the mood word) is easy to read, and the same rows with shuffled labels.
    static func moodData() -> (texts: [String], labels: [Int]) {
        let subjects = ["I", "We", "They", "My friend", "Everyone", "She", "He", "The kids", "My mother", "Our team"]
        let objects = ["this movie", "the food", "the weather", "my job", "the book", "this song", "the city", "the game", "our teacher", "the trip"]
        var texts: [String] = [], labels: [Int] = []
        for (i, s) in subjects.enumerated() {
            for (j, o) in objects.enumerated() {
                let happy = (i + j) % 2 == 0
                texts.append("\(s) \(happy ? "loved" : "hated") \(o)")
                labels.append(happy ? 1 : 0)
            }
        }
        return (texts, labels)
    }

    func testProbeReadsAnEasyLabelButNotShuffledOnes() throws {
        let (model, _) = try AnalysisFixture.load()
        let (texts, labels) = Self.moodData()
        let prompts = try texts.map(AnalysisFixture.encode)
        let layers = [0, 3, 6, 9, 12]
        let real = try ProbeSweep.run(model: model, prompts: prompts, labels: labels, classCount: 2, layers: layers, seed: 1)
        let best = try XCTUnwrap(real.best)
        XCTAssertGreaterThanOrEqual(best.testAccuracy, 0.95, "\(real.layers)")

        // Control task: the same rows, labels shuffled with a fixed seed.
        var rng = SplitMix64(seed: 42)
        let shuffled = labels.shuffled(using: &rng)
        let control = try ProbeSweep.run(model: model, prompts: prompts, labels: shuffled, classCount: 2, layers: layers, seed: 1)
        let mean = control.layers.map(\.testAccuracy).reduce(0, +) / Double(layers.count)
        XCTAssertLessThan(mean, 0.7, "\(control.layers)")
        XCTAssertLessThan(control.best?.testAccuracy ?? 1, 0.8)
        print("probe: real \(real.layers.map(\.testAccuracy)), shuffled \(control.layers.map(\.testAccuracy))")
    }

    func testProbeRejectsASingleClass() throws {
        let (model, _) = try AnalysisFixture.load()
        let prompts = try ["a", "b", "c"].map(AnalysisFixture.encode)
        XCTAssertThrowsError(try ProbeSweep.run(model: model, prompts: prompts, labels: [0, 0, 0], classCount: 2, layers: [0]))
    }

    /// The probe's features come from the batched reader, which groups prompts of equal length into
    /// one pass and stops after the deepest layer: each row must equal the same prompt run alone.
    func testBatchedReaderEqualsOnePlainRunPerPrompt() throws {
        let (model, _) = try AnalysisFixture.load()
        let texts = ["I loved this movie", "They hated the food", "We loved the city a lot", "She hated it"]
        let prompts = try texts.map(AnalysisFixture.encode)
        XCTAssertLessThan(Set(prompts.map(\.count)).count, prompts.count, "some prompts share a length, so they run as one batch")
        let layers = [0, 7, 12]
        for reduction in [PositionReduction.last, .mean] {
            let rows = try ResidualReader.residPost(model: model, prompts: prompts, layers: layers, reduction: reduction)
            XCTAssertEqual(rows.count, layers.count)
            for (i, l) in layers.enumerated() {
                XCTAssertEqual(rows[i].count, prompts.count)
                for (p, ids) in prompts.enumerated() {
                    let run = try model.run(tokens: ids, cache: [.residPost(l)], logits: .last)
                    let t = try XCTUnwrap(run.activations[.residPost(l)])            // [1, T, d]
                    let d = t.shape[2]
                    var expected = [Float](repeating: 0, count: d)
                    let positions = reduction == .last ? [ids.count - 1] : Array(ids.indices)
                    for q in positions { for e in 0..<d { expected[e] += t.data[q * d + e] / Float(positions.count) } }
                    let scale = expected.map(abs).max() ?? 1
                    for e in 0..<d {
                        XCTAssertEqual(rows[i][p][e], expected[e], accuracy: 1e-4 * max(1, scale),
                                       "layer \(l), prompt \(p), \(reduction)")
                    }
                }
            }
        }
    }
}
