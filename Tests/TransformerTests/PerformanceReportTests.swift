import Foundation
import XCTest
@testable import Transformer

/// Measures load time, prompt and decode speed and resident memory, printing a report line
/// (the numbers are machine-dependent, so only generous bounds are asserted).
final class PerformanceReportTests: XCTestCase {
    func testReportSpeedAndMemory() throws {
        let path = Model.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("The default model is not at \(path); `make model` fetches it.")
        }
        let rssBefore = Double(Model.residentMemoryBytes() ?? 0) / 1_048_576
        let started = Date(), loadCPU0 = Self.cpuSeconds()
        let model = try Model(path: path)
        let load = Date().timeIntervalSince(started), loadCPU = Self.cpuSeconds() - loadCPU0
        let c = model.config
        let prompt = (0..<32).map { 100 + $0 * 37 }

        // 32-token prompt, every resid_post cached, logits at the last position only.
        let points = (0..<c.layerCount).map(HookPoint.residPost)
        var best = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<3 {
            let cache = ActivationCache()
            let hooks = HookSet()
            hooks.cache(points, into: cache)
            var caches = [model.makeCache()]
            let t0 = Date(), cpu0 = Self.cpuSeconds()
            _ = try model.forward([prompt], caches: &caches, hooks: hooks, logits: .last)
            best = min(best, Date().timeIntervalSince(t0))
            bestCPU = min(bestCPU, Self.cpuSeconds() - cpu0)
            XCTAssertEqual(cache[.residPost(29)]?.shape, [1, 32, 576])
        }
        // Decode: 64 tokens after a 32-token prefill.
        var cache = model.makeCache()
        var logits = try model.prefill(prompt, cache: &cache)
        let steps = 64
        let t1 = Date(), cpu1 = Self.cpuSeconds()
        for _ in 0..<steps { logits = try model.prefill([Sampler.argmax(logits)], cache: &cache) }
        let decode = Double(steps) / Date().timeIntervalSince(t1)
        let decodeCPU = (Self.cpuSeconds() - cpu1) / Double(steps) * 1000
        let rss = Double(Model.residentMemoryBytes() ?? 0) / 1_048_576

        // FLOPs: 2 per multiply-add in the matrix products (+ attention), per token.
        let perToken = 2.0 * Double(c.parameterCount - c.vocabularySize * c.modelDim)
        let promptFLOP = 32 * perToken + 2 * Double(c.vocabularySize * c.modelDim)
            + Double(c.layerCount) * 2 * 2 * Double(32 * 33 / 2 * c.qDim)
        let decodeFLOP = perToken + 2 * Double(c.vocabularySize * c.modelDim)
        print(String(format: "PERF cpu time: load %.3f s, prompt32 %.1f ms, decode %.2f ms/token (both cores summed); load average %@",
                     loadCPU, bestCPU * 1000, decodeCPU, (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"))
        print(String(format: "PERF load %.3f s | prompt32 %.1f ms (%.2f GFLOP, %.1f GFLOP/s) | decode %.1f tok/s (%.3f GFLOP/token) | VmRSS %.0f MiB (%.0f before this load) | F32 copies %.0f MiB",
                     load, best * 1000, promptFLOP / 1e9, promptFLOP / best / 1e9, decode, decodeFLOP / 1e9, rss, rssBefore,
                     Double(model.weights.residentBytes) / 1_048_576))
        XCTAssertLessThan(load, 10)
        XCTAssertGreaterThan(decode, 1)
    }

    /// CPU seconds used by this process on all threads (immune to other processes' load).
    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
