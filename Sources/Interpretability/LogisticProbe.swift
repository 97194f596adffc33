import Foundation
import Transformer

// MARK: - Logistic-regression probe

/// A multinomial logistic-regression probe: p(class | x) = softmax(W·z + b), z the standardised
/// features. Trained by minimising the mean cross-entropy plus (λ/2)‖W‖² with L-BFGS.
public struct LogisticProbe: Sendable {
    /// Class count K.
    public let classCount: Int
    /// W, K × d (on standardised features).
    public private(set) var weights: [[Double]]
    /// b, K.
    public private(set) var bias: [Double]
    /// Feature means and inverse standard deviations from the training rows.
    public let mean: [Double]
    public let inverseScale: [Double]
    /// L-BFGS iterations taken and the final objective.
    public private(set) var iterations: Int = 0
    public private(set) var loss: Double = .nan

    /// Trains on `features` (rows of equal width) with integer `labels` in 0..<classCount.
    public static func train(features: [[Float]], labels: [Int], classCount: Int, l2: Double = 1e-2,
                             maxIterations: Int = 200) throws -> LogisticProbe {
        guard features.count == labels.count, !features.isEmpty else {
            throw AnalysisError.noTrainingRows
        }
        guard classCount >= 2 else { throw AnalysisError.tooFewClasses(found: classCount) }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classCount }) {
            throw AnalysisError.intOutOfRange(name: "label", value: bad, lowest: 0, highest: classCount - 1)
        }
        let d = features[0].count
        guard features.allSatisfy({ $0.count == d }) else {
            throw AnalysisError.widthMismatch(expected: d, found: features.first { $0.count != d }?.count ?? d)
        }
        let n = features.count
        // Standardise: the optimiser converges in far fewer steps on unit-variance features.
        var mean = [Double](repeating: 0, count: d)
        for row in features { for j in 0..<d { mean[j] += Double(row[j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var variance = [Double](repeating: 0, count: d)
        for row in features { for j in 0..<d { let e = Double(row[j]) - mean[j]; variance[j] += e * e } }
        let inverseScale = variance.map { v -> Double in
            let s = (v / Double(n)).squareRoot()
            return s > 1e-8 ? 1 / s : 0
        }
        var z = [Double](repeating: 0, count: n * d)   // [n, d] standardised
        for i in 0..<n { for j in 0..<d { z[i * d + j] = (Double(features[i][j]) - mean[j]) * inverseScale[j] } }

        let k = classCount
        let objective = SoftmaxObjective(z: z, labels: labels, n: n, d: d, k: k, l2: l2)
        var theta = [Double](repeating: 0, count: k * (d + 1))   // W row-major then b
        let (iterations, loss) = LBFGS.minimize(&theta, maxIterations: maxIterations) { objective.evaluate($0, gradient: &$1) }

        var probe = LogisticProbe(classCount: k, weights: (0..<k).map { c in Array(theta[(c * d)..<((c + 1) * d)]) },
                                  bias: Array(theta[(k * d)...]), mean: mean, inverseScale: inverseScale)
        probe.iterations = iterations
        probe.loss = loss
        return probe
    }

    private init(classCount: Int, weights: [[Double]], bias: [Double], mean: [Double], inverseScale: [Double]) {
        self.classCount = classCount; self.weights = weights; self.bias = bias
        self.mean = mean; self.inverseScale = inverseScale
    }

    /// The class scores W·z + b of one row.
    public func scores(_ x: [Float]) -> [Double] {
        (0..<classCount).map { c in
            var s = bias[c]
            let w = weights[c]
            for j in 0..<min(x.count, w.count) { s += w[j] * (Double(x[j]) - mean[j]) * inverseScale[j] }
            return s
        }
    }

    /// Each class's weights on the raw (unstandardised) features: W·diag(1/σ), K × d.
    public var rawWeights: [[Float]] {
        weights.map { w in w.indices.map { Float(w[$0] * inverseScale[$0]) } }
    }

    /// The most likely class of one row.
    public func predict(_ x: [Float]) -> Int {
        let s = scores(x)
        var best = 0
        for c in s.indices where s[c] > s[best] { best = c }
        return best
    }

    /// The share of rows whose predicted class is their label.
    public func accuracy(features: [[Float]], labels: [Int]) -> Double {
        guard !features.isEmpty else { return .nan }
        let right = zip(features, labels).filter { predict($0) == $1 }.count
        return Double(right) / Double(features.count)
    }
}

// MARK: - Objective

/// Mean softmax cross-entropy + (λ/2)‖W‖² and its gradient, parameters θ = [W (K×d) row-major, b (K)].
private struct SoftmaxObjective {
    let z: [Double]; let labels: [Int]; let n: Int; let d: Int; let k: Int; let l2: Double

    func evaluate(_ theta: [Double], gradient g: inout [Double]) -> Double {
        for i in g.indices { g[i] = 0 }
        var loss = 0.0
        var s = [Double](repeating: 0, count: k)
        z.withUnsafeBufferPointer { zp in
            theta.withUnsafeBufferPointer { tp in
                g.withUnsafeMutableBufferPointer { gp in
                    for i in 0..<n {
                        let row = zp.baseAddress! + i * d
                        for c in 0..<k {
                            let w = tp.baseAddress! + c * d
                            var acc = tp[k * d + c]
                            for j in 0..<d { acc += w[j] * row[j] }
                            s[c] = acc
                        }
                        let top = s.max() ?? 0
                        var total = 0.0
                        for c in 0..<k { s[c] = exp(s[c] - top); total += s[c] }
                        loss -= log(max(s[labels[i]] / total, 1e-300))
                        for c in 0..<k {
                            let r = s[c] / total - (c == labels[i] ? 1 : 0)   // ∂loss/∂score
                            let gw = gp.baseAddress! + c * d
                            for j in 0..<d { gw[j] += r * row[j] }
                            gp[k * d + c] += r
                        }
                    }
                }
            }
        }
        let inv = 1 / Double(n)
        loss *= inv
        for i in g.indices { g[i] *= inv }
        for i in 0..<(k * d) { loss += 0.5 * l2 * theta[i] * theta[i]; g[i] += l2 * theta[i] }
        return loss
    }
}

// MARK: - L-BFGS

/// Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4) with a backtracking Armijo line search.
public enum LBFGS {
    /// Minimises `f` from `x` in place; `f` returns the value and fills the gradient. Returns the
    /// iterations taken and the final value. Stops when ‖g‖∞ < `tolerance` or progress stalls.
    @discardableResult
    public static func minimize(_ x: inout [Double], memory m: Int = 10, maxIterations: Int = 200, tolerance: Double = 1e-6,
                                _ f: ([Double], inout [Double]) -> Double) -> (iterations: Int, value: Double) {
        let n = x.count
        var g = [Double](repeating: 0, count: n)
        var fx = f(x, &g)
        var sHistory: [[Double]] = [], yHistory: [[Double]] = [], rho: [Double] = []
        var iteration = 0
        while iteration < maxIterations {
            if (g.map(abs).max() ?? 0) < tolerance { break }
            // Two-loop recursion: direction = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: sHistory.count)
            for i in stride(from: sHistory.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(sHistory[i], q)
                for j in 0..<n { q[j] -= alpha[i] * yHistory[i][j] }
            }
            if let s = sHistory.last, let y = yHistory.last {
                let gamma = dot(s, y) / max(dot(y, y), 1e-300)
                for j in 0..<n { q[j] *= gamma }
            } else {
                // First step: a unit-length move along −g.
                let norm = max(dot(g, g).squareRoot(), 1e-300)
                for j in 0..<n { q[j] /= norm }
            }
            for i in 0..<sHistory.count {
                let beta = rho[i] * dot(yHistory[i], q)
                for j in 0..<n { q[j] += sHistory[i][j] * (alpha[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {   // not a descent direction: restart from steepest descent
                sHistory.removeAll(); yHistory.removeAll(); rho.removeAll()
                direction = g.map { -$0 }
                slope = -dot(g, g)
            }
            // Backtracking line search (Armijo condition).
            var step = 1.0
            var candidate = x, gNew = g, fNew = fx
            var accepted = false
            for _ in 0..<40 {
                for j in 0..<n { candidate[j] = x[j] + step * direction[j] }
                fNew = f(candidate, &gNew)
                if fNew <= fx + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            iteration += 1
            guard accepted else { break }
            let s = (0..<n).map { candidate[$0] - x[$0] }
            let y = (0..<n).map { gNew[$0] - g[$0] }
            let sy = dot(s, y)
            if sy > 1e-12 {
                sHistory.append(s); yHistory.append(y); rho.append(1 / sy)
                if sHistory.count > m { sHistory.removeFirst(); yHistory.removeFirst(); rho.removeFirst() }
            }
            let improvement = fx - fNew
            x = candidate; g = gNew; fx = fNew
            if improvement < 1e-12 * max(1, abs(fx)) { break }
        }
        return (iteration, fx)
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }
}

// MARK: - Train/test split

/// A seeded, stratified split of row indices into training and held-out rows.
public struct ProbeSplit: Sendable, Equatable {
    public var train: [Int]
    public var test: [Int]

    /// Each class contributes round(trainFraction × its rows) to training (at least one, and at least
    /// one left for testing when it has two or more rows); the order is shuffled with `seed`.
    public static func stratified(labels: [Int], classCount: Int, trainFraction: Double, seed: UInt64) throws -> ProbeSplit {
        guard trainFraction > 0, trainFraction < 1 else {
            throw AnalysisError.numberOutOfRange(name: "split", value: trainFraction, domain: .openUnitInterval, example: 0.7)
        }
        var rng = SplitMix64(seed: seed)
        var train: [Int] = [], test: [Int] = []
        for c in 0..<classCount {
            var rows = labels.indices.filter { labels[$0] == c }
            rows.shuffle(using: &rng)
            guard !rows.isEmpty else { continue }
            var cut = Int((trainFraction * Double(rows.count)).rounded())
            cut = min(max(cut, 1), rows.count > 1 ? rows.count - 1 : 1)
            train += rows[..<cut]
            test += rows[cut...]
        }
        train.shuffle(using: &rng)
        test.shuffle(using: &rng)
        return ProbeSplit(train: train, test: test)
    }

    /// K stratified folds: each class's rows, shuffled with `seed`, are dealt round-robin into the
    /// folds; split k trains on every fold but k and tests on fold k.
    public static func folds(labels: [Int], classCount: Int, k: Int, seed: UInt64) throws -> [ProbeSplit] {
        guard k >= 2, k <= labels.count else {
            throw AnalysisError.intOutOfRange(name: "folds", value: k, lowest: 2, highest: labels.count)
        }
        var rng = SplitMix64(seed: seed)
        var folds = [[Int]](repeating: [], count: k)
        var next = 0
        for c in 0..<classCount {
            var rows = labels.indices.filter { labels[$0] == c }
            rows.shuffle(using: &rng)
            for r in rows { folds[next % k].append(r); next += 1 }
        }
        return (0..<k).map { f in
            ProbeSplit(train: (0..<k).filter { $0 != f }.flatMap { folds[$0] }.sorted(), test: folds[f].sorted())
        }
    }
}

// MARK: - Probing every layer

/// A probe's scores at one layer.
public struct LayerProbeScore: Sendable, Equatable {
    public var layer: Int
    public var trainAccuracy: Double
    /// Held-out accuracy (with folds: the mean over the folds).
    public var testAccuracy: Double
    public var iterations: Int
    /// With folds: each fold's held-out accuracy (empty for a single split).
    public var foldAccuracies: [Double] = []
    /// Each class's weight vector in the residual stream's own units (W·diag(1/σ)), K × d_model,
    /// from the probe trained on the training rows (with folds: on every row).
    public var weights: [[Float]] = []

    /// The standard deviation of the fold accuracies (0 for a single split).
    public var testAccuracySpread: Double {
        guard foldAccuracies.count > 1 else { return 0 }
        let m = foldAccuracies.reduce(0, +) / Double(foldAccuracies.count)
        return (foldAccuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(foldAccuracies.count - 1)).squareRoot()
    }
}

/// A probe sweep over layers.
public struct ProbeReport: Sendable, Equatable {
    public var layers: [LayerProbeScore]
    /// The held-out accuracy of always answering the most common training class.
    public var majorityBaseline: Double
    public var trainCount: Int
    public var testCount: Int
    /// The states read at massive-activation positions (when a profile was given).
    public var massive: [MassiveReading] = []
    /// The number of folds of k-fold cross-validation, or nil for one split.
    public var folds: Int?
    /// The L2 penalty λ the probes were trained with.
    public var l2: Double = 1e-2
    /// The layer with the best held-out accuracy (the first of ties).
    public var best: LayerProbeScore? {
        layers.reduce(nil) { best, s in best.map { s.testAccuracy > $0.testAccuracy ? s : $0 } ?? s }
    }
}

/// Trains one probe per layer on the residual stream of labelled prompts.
public enum ProbeSweep {
    /// Reads resid_post of every prompt at `layers` (one batched pass set), splits the rows with `seed`
    /// (a stratified split with `trainFraction` of them for training, or `folds` stratified folds),
    /// and trains and scores a probe per layer with L2 penalty `l2`. Labels are class indices in
    /// 0..<classCount.
    public static func run(model: Model, prompts: [[Int]], labels: [Int], classCount: Int, layers: [Int],
                           reduction: PositionReduction = .last, trainFraction: Double = 0.7, folds: Int? = nil,
                           seed: UInt64 = 0, l2: Double = 1e-2, profile: MassiveActivations? = nil,
                           context: TaskContext = .none) throws -> ProbeReport {
        guard prompts.count == labels.count else {
            throw AnalysisError.labelCountMismatch(prompts: prompts.count, labels: labels.count)
        }
        let present = Set(labels)
        guard present.count >= 2 else {
            throw AnalysisError.tooFewClasses(found: present.count)
        }
        guard l2 > 0, l2.isFinite else {
            throw AnalysisError.numberOutOfRange(name: "ridge", value: l2, domain: .positive, example: 0.01)
        }
        let splits = try folds.map { try ProbeSplit.folds(labels: labels, classCount: classCount, k: $0, seed: seed) }
            ?? [try ProbeSplit.stratified(labels: labels, classCount: classCount, trainFraction: trainFraction, seed: seed)]
        guard splits.allSatisfy({ !$0.test.isEmpty && !$0.train.isEmpty }) else {
            throw AnalysisError.noRowsHeldOut(rows: labels.count)
        }
        // Reading the activations is most of the time: 80% of the progress bar.
        let reading = TaskContext(isCancelled: { context.isCancelled }, progress: { f, label in context.report(0.8 * f, label) })
        let read = try ResidualReader.read(model: model, prompts: prompts, layers: layers, reduction: reduction,
                                           profile: profile, context: reading)
        let states = read.states
        // The majority class of each split's training rows, scored on its held-out rows.
        let baselines = splits.map { split -> Double in
            var counts = [Int](repeating: 0, count: classCount)
            for i in split.train { counts[labels[i]] += 1 }
            let majority = counts.indices.max { counts[$0] < counts[$1] } ?? 0
            return Double(split.test.filter { labels[$0] == majority }.count) / Double(split.test.count)
        }

        var scores: [LayerProbeScore] = []
        for (k, layer) in layers.enumerated() {
            try context.checkCancelled()
            var trainAccuracies: [Double] = [], testAccuracies: [Double] = [], iterations = 0
            var lastProbe: LogisticProbe?
            for split in splits {
                let trainX = split.train.map { states[k][$0] }, trainY = split.train.map { labels[$0] }
                let testX = split.test.map { states[k][$0] }, testY = split.test.map { labels[$0] }
                let probe = try LogisticProbe.train(features: trainX, labels: trainY, classCount: classCount, l2: l2)
                trainAccuracies.append(probe.accuracy(features: trainX, labels: trainY))
                testAccuracies.append(probe.accuracy(features: testX, labels: testY))
                iterations += probe.iterations
                lastProbe = probe
            }
            // With folds, the weights come from one more probe trained on every row.
            let weightProbe = folds == nil ? lastProbe
                : try LogisticProbe.train(features: states[k], labels: labels, classCount: classCount, l2: l2)
            let mean = { (v: [Double]) in v.reduce(0, +) / Double(v.count) }
            scores.append(LayerProbeScore(layer: layer, trainAccuracy: mean(trainAccuracies), testAccuracy: mean(testAccuracies),
                                          iterations: iterations, foldAccuracies: folds == nil ? [] : testAccuracies,
                                          weights: weightProbe?.rawWeights ?? []))
            context.report(0.8 + 0.2 * Double(k + 1) / Double(layers.count), "probe layer \(layer)")
        }
        return ProbeReport(layers: scores, majorityBaseline: baselines.reduce(0, +) / Double(baselines.count),
                           trainCount: splits[0].train.count, testCount: splits[0].test.count,
                           massive: read.massive, folds: folds, l2: l2)
    }
}
