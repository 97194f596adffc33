import Foundation
@testable import Rendering

// MARK: - Fixed inputs shared by snapshot and behaviour tests

enum Fixtures {
    /// A small logit-lens-like heatmap: 4 layers × 5 positions, top-1 tokens in the cells,
    /// including a hostile token and whitespace tokens.
    static var lensHeatmap: Heatmap {
        let tokens = ["The", " Eiffel", " Tower", " is", " in"]
        let top = [
            ["\n", " the", "<script>", " a", " the"],
            [" first", " Tower", " Tower", " located", " the"],
            [" same", " Tower", "&\"'", " located", " Paris"],
            [" most", " Tower", " is", " located", " Paris"],
        ]
        let probs: [[Float]] = [
            [0.02, 0.05, 0.01, 0.08, 0.10],
            [0.04, 0.31, 0.22, 0.12, 0.15],
            [0.06, 0.72, 0.35, 0.44, 0.38],
            [0.09, 0.93, 0.51, 0.81, 0.87],
        ]
        return Heatmap(title: "Logit lens: top-1 token per layer", xLabel: "position", yLabel: "layer",
                       rowLabels: ["L0", "L1", "L2", "L3"],
                       columnLabels: tokens.enumerated().map { "\($0.offset) \(visibleToken($0.element))" },
                       values: probs, cellText: top.map { $0.map(visibleToken) },
                       scale: .sequential, range: .fixed(0, 1), valueLabel: "p(top-1)")
    }

    /// A diverging heatmap without cell text (activation patching style), with one NaN.
    static var patchingHeatmap: Heatmap {
        var v: [[Double]] = []
        for l in 0..<6 { v.append((0..<4).map { (p: Int) -> Double in sin(Double(l * 4 + p)) * 0.8 }) }
        v[2][1] = .nan
        return Heatmap(title: "Activation patching (resid_pre)", xLabel: "position", yLabel: "layer",
                       rowLabels: (0..<6).map { "\($0)" }, columnLabels: ["·When", "·Mary", "·and", "·John"],
                       values: v, scale: .diverging, valueLabel: "restored", valueFormat: .fixed(2))
    }

    /// A top-K table like `run p top 3`.
    static var topTable: Table {
        Table(title: "Next token after \"The Eiffel Tower is in\"",
              columns: [.init("rank", alignment: .right), .init("token"), .init("id", alignment: .right),
                        .init("prob", alignment: .right), .init("logit", alignment: .right)],
              rows: [
                  [.number(1, .integer), .token(" Paris"), .number(7042, .integer), .number(0.8712, .percent(1), intensity: 0.8712), .number(17.25, .fixed(2))],
                  [.number(2, .integer), .token(" the"), .number(260, .integer), .number(0.0531, .percent(1), intensity: 0.0531), .number(14.45, .fixed(2))],
                  [.number(3, .integer), .token("\n<b>&"), .number(198, .integer), .number(0.0102, .percent(1), intensity: 0.0102), .number(12.8, .fixed(2))],
              ],
              caption: "probabilities after softmax over 49152 tokens")
    }
}
