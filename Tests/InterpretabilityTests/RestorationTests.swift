import Foundation
import XCTest
import Transformer
@testable import Interpretability

/// The resumed, batched restoring sweep (`Restoration`) against the plain definition: for every
/// variant, a full forward pass of the corrupted prompt from scratch with the clean activation
/// written in by a hook.
final class RestorationTests: XCTestCase {
    /// The metric of each (layer, position), averaged over samples, computed the slow way.
    func naive(_ model: Model, clean: [Int], corrupt: [Int], noise: Restoration.Noise?, samples: Int, hook: HookSite,
               layers: [Int], positions: [Int], metric: PatchingMetric) throws -> [[Double]] {
        // The clean activations from a plain run of the clean prompt alone.
        var activations: [Int: [Int: [Float]]] = [:]
        let recorder = HookSet()
        for l in layers {
            recorder.add(hook.point(l)) { view in
                for p in positions { activations[l, default: [:]][p] = Array(view.row(batch: 0, position: p)) }
            }
        }
        var cleanCaches = [model.makeCache()]
        _ = try model.forward([clean], caches: &cleanCaches, hooks: recorder, logits: .none)
        return try layers.map { l in
            try positions.map { p in
                var total = 0.0
                for s in 0..<samples {
                    let hooks = HookSet()
                    noise?.install(on: hooks, samples: [s])
                    hooks.replace(hook.point(l), positions: [p], with: try XCTUnwrap(activations[l]?[p]))
                    var caches = [model.makeCache()]
                    let logits = try model.forward([corrupt], caches: &caches, hooks: hooks, logits: .last)
                    total += metric.value(logits.data[...])
                }
                return total / Double(samples)
            }
        }
    }

    func assertClose(_ a: [[Double]], _ b: [[Double]], _ accuracy: Double, _ message: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (ra, rb) in zip(a, b) {
            for (x, y) in zip(ra, rb) { XCTAssertEqual(x, y, accuracy: accuracy, message, file: file, line: line) }
        }
    }

    /// A resid_pre restoration at block 0 writes a token embedding: where the clean and corrupted
    /// tokens agree it is the value already there and needs no pass; where they differ, or at a
    /// later block, it does.
    func testRestoringTheValueAlreadyThereIsRecognised() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let (clean, corrupt) = (reference.clean_ids, reference.corrupt_ids)
        let same = try XCTUnwrap(clean.indices.last { clean[$0] == corrupt[$0] })
        let differs = try XCTUnwrap(clean.indices.first { clean[$0] != corrupt[$0] })
        let layers = [0, 3], positions = [same, differs]
        let (_, activations, corrupted) = try Restoration.referenceRuns(
            model: model, clean: clean, corrupt: corrupt, noise: nil, samples: 1, hook: .residPre, layers: layers,
            positions: positions, metric: .probability(answer: reference.answer_id), context: .none)
        func restoresItsOwn(layer: Int, position: Int) -> Bool {
            let v = Restoration.Variant(layerIndex: 0, positionIndex: 0, layer: layer, position: position, sample: 0,
                                        startLayer: layer, rows: clean.count - position)
            return Restoration.restoresItsOwnValue(v, hook: .residPre, clean: activations, corrupted: corrupted,
                                                   width: model.config.modelDim)
        }
        XCTAssertTrue(restoresItsOwn(layer: 0, position: same))
        XCTAssertFalse(restoresItsOwn(layer: 0, position: differs))
        XCTAssertFalse(restoresItsOwn(layer: 3, position: same))       // attention has mixed in the differing tokens
    }

    func testPatchingEqualsPerVariantFullPasses() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let (clean, corrupt) = (reference.clean_ids, reference.corrupt_ids)
        let layers = [0, 3, 28, 29], positions = [0, 2, 5, clean.count - 1]
        let metrics: [PatchingMetric] = [.probability(answer: reference.answer_id),
                                         .logitDifference(answer: reference.answer_id, against: reference.against_id)]
        for hook in HookSite.allCases {
            for metric in metrics {
                let result = try ActivationPatching.run(model: model, clean: clean, corrupt: corrupt, metric: metric, hook: hook,
                                                        layers: layers, positions: positions)
                let expected = try naive(model, clean: clean, corrupt: corrupt, noise: nil, samples: 1, hook: hook,
                                         layers: layers, positions: positions, metric: metric)
                assertClose(result.raw, expected, metric == metrics[0] ? 1e-5 : 1e-3, "\(hook.rawValue), \(metric.name)")
            }
        }
    }

    func testTracingEqualsPerVariantFullPasses() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let prompt = reference.clean_ids
        let subject = [1, 2, 3], layers = [0, 14, 29], positions = [0, 1, 3, prompt.count - 1]
        let metric = PatchingMetric.probability(answer: reference.answer_id)
        let noise = try CausalTracing.noise(model: model, subject: subject, std: 3, samples: 2, seed: 11)
        for hook in HookSite.allCases {
            let result = try CausalTracing.run(model: model, prompt: prompt, subjectPositions: subject, metric: metric,
                                               samples: 2, seed: 11, hook: hook, layers: layers, positions: positions)
            let expected = try naive(model, clean: prompt, corrupt: prompt, noise: noise, samples: 2, hook: hook,
                                     layers: layers, positions: positions, metric: metric)
            assertClose(result.raw, expected, 1e-5, "tracing \(hook.rawValue)")
        }
    }

    /// Splitting the restorations over several passes (every start layer in each) changes nothing.
    func testSmallPassesGiveTheSameSweep() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let (clean, corrupt) = (reference.clean_ids, reference.corrupt_ids)
        let layers = Array(0..<model.config.layerCount), positions = Array(clean.indices)
        let metric = PatchingMetric.probability(answer: reference.answer_id)
        let variants = Restoration.plan(count: clean.count, samples: 1, identicalPrefix: 1, hook: .residPre, layers: layers,
                                        positions: positions, layerCount: model.config.layerCount)
        let chunks = Restoration.chunk(variants, rows: 64)
        XCTAssertEqual(chunks.flatMap { $0 }.count, variants.count)
        for chunk in chunks {
            XCTAssertLessThanOrEqual(chunk.reduce(0) { $0 + $1.rows }, 64 + clean.count)
            XCTAssertEqual(chunk.map(\.startLayer), chunk.map(\.startLayer).sorted())
        }
        let whole = try Restoration.measure(model: model, clean: clean, corrupt: corrupt, noise: nil, samples: 1, identicalPrefix: 1,
                                            hook: .mlpOut, layers: layers, positions: positions, metric: metric, context: .none)
        let pieces = try Restoration.measure(model: model, clean: clean, corrupt: corrupt, noise: nil, samples: 1, identicalPrefix: 1,
                                             hook: .mlpOut, layers: layers, positions: positions, metric: metric, maxRows: 64,
                                             context: .none)
        assertClose(pieces.raw, whole.raw, 1e-5, "64-row passes")
    }

    /// The sweep reports progress that only grows, and reaches 1.
    func testProgressAdvances() throws {
        let (model, _) = try AnalysisFixture.load()
        let reference = try LensReference.load().patching
        let box = ProgressBox()
        _ = try ActivationPatching.run(model: model, clean: reference.clean_ids, corrupt: reference.corrupt_ids,
                                       metric: .probability(answer: reference.answer_id), layers: [0, 5, 9],
                                       context: TaskContext(progress: { f, _ in box.add(f) }))
        XCTAssertGreaterThan(box.values.count, 20)
        XCTAssertEqual(box.values, box.values.sorted())
        XCTAssertEqual(box.values.last ?? 0, 1, accuracy: 1e-9)
    }

    /// Timing of the bench workload (PERISCOPE_BENCH=1): CPU and wall seconds, block-rows run.
    func testPatchingProbe() throws {
        guard ProcessInfo.processInfo.environment["PERISCOPE_BENCH"] == "1" else {
            throw XCTSkip("Set PERISCOPE_BENCH=1 to time the patching sweep.")
        }
        let (model, _) = try AnalysisFixture.load()
        let clean = try AnalysisFixture.encode("The Eiffel Tower is located in the city of")
        let corrupt = try AnalysisFixture.encode("The Colosseum is located in the city of")
        let metric = PatchingMetric.probability(answer: try AnalysisFixture.token(" Paris"))
        let layerCount = model.config.layerCount
        let identical = zip(clean, corrupt).prefix { $0 == $1 }.count
        let variants = Restoration.plan(count: clean.count, samples: 1, identicalPrefix: identical, hook: .residPre,
                                        layers: Array(0..<layerCount), positions: Array(clean.indices), layerCount: layerCount)
        // Block-rows run whole (the last block finishes only last rows; the others make q, k, v there),
        // counting the clean and corrupt runs.
        let fullRows = variants.reduce(0) { $0 + $1.rows * (layerCount - 1 - $1.startLayer) + 1 } + 2 * (clean.count * (layerCount - 1) + 1)
        let qkvRows = variants.reduce(0) { $0 + $1.rows - 1 } + 2 * (clean.count - 1)
        func cpu() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
        }
        var walls: [Double] = [], cpus: [Double] = []
        for _ in 0..<6 {
            let (w0, c0) = (Date(), cpu())
            let r = try ActivationPatching.run(model: model, clean: clean, corrupt: corrupt, metric: metric)
            walls.append(Date().timeIntervalSince(w0)); cpus.append(cpu() - c0)
            XCTAssertEqual(r.raw.count * r.raw[0].count, layerCount * clean.count)
        }
        let wall = walls.dropFirst().sorted()[2], cpuTime = cpus.dropFirst().sorted()[2]
        let d = Double(model.config.modelDim), qkv = 2 * d * Double(model.config.qDim + 2 * model.config.kvDim)
        let gflop = (Double(fullRows) * 7.08e6 + Double(qkvRows) * qkv + Double(variants.count + 2) * 2 * d * 49152) / 1e9

        // Interrupt latency: cancel mid-sweep, time until the sweep throws.
        let cancelAt = LatencyBox()
        var latencies: [Double] = []
        for delay in [0.6, 0.9, 1.2] {
            cancelAt.reset()
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { cancelAt.fire() }
            let context = TaskContext(isCancelled: { cancelAt.fired })
            XCTAssertThrowsError(try ActivationPatching.run(model: model, clean: clean, corrupt: corrupt, metric: metric, context: context))
            latencies.append(cancelAt.sinceFired)
        }
        // Causal tracing of the clean prompt: 10 noise samples, every layer and position.
        let subject = [1, 2, 3]
        var traceWalls: [Double] = [], traceCPUs: [Double] = []
        for _ in 0..<3 {
            let (w0, c0) = (Date(), cpu())
            _ = try CausalTracing.run(model: model, prompt: clean, subjectPositions: subject, metric: metric, samples: 10)
            traceWalls.append(Date().timeIntervalSince(w0)); traceCPUs.append(cpu() - c0)
        }
        print(#"{"probe": "tracing 10 samples", "wall_s": \#(traceWalls.sorted()[1]), "cpu_s": \#(traceCPUs.sorted()[1])}"#)
        print(#"{"probe": "patching", "wall_s": \#(wall), "cpu_s": \#(cpuTime), "walls": \#(walls), "full_block_rows": \#(fullRows), "qkv_rows": \#(qkvRows), "variants": \#(variants.count), "gflop": \#(gflop), "gflops_wall": \#(gflop / wall), "gflops_cpu": \#(gflop / cpuTime), "interrupt_latency_s": \#(latencies)}"#)
    }
}

/// When a timer cancelled a sweep, and how long ago.
final class LatencyBox: @unchecked Sendable {
    private let lock = NSLock()
    private var at: Date?
    func reset() { lock.lock(); at = nil; lock.unlock() }
    func fire() { lock.lock(); at = Date(); lock.unlock() }
    var fired: Bool { lock.lock(); defer { lock.unlock() }; return at != nil }
    var sinceFired: Double { lock.lock(); defer { lock.unlock() }; return at.map { Date().timeIntervalSince($0) } ?? -1 }
}
