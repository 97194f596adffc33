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

extension Fixtures {
    /// Probe accuracy per layer with a chance line.
    static var probeChart: LineChart {
        let layers = (0..<30).map(Double.init)
        let train = layers.map { 0.5 + 0.45 * (1 - exp(-$0 / 6)) }
        let held = layers.map { 0.5 + 0.38 * (1 - exp(-$0 / 7)) - ($0 > 20 ? ($0 - 20) * 0.01 : 0) }
        return LineChart(title: "Sentiment probe accuracy", xLabel: "layer", yLabel: "accuracy",
                         series: [.init(name: "train", x: layers, y: train), .init(name: "held-out", x: layers, y: held)],
                         reference: .init(y: 0.5, label: "chance"), yRange: .fixed(0.4, 1), valueFormat: .fixed(3))
    }

    /// A PCA scatter with two groups and one hostile label.
    static var pcaScatter: ScatterPlot {
        ScatterPlot(title: "PCA of last-token states, layer 12", xLabel: "PC1", yLabel: "PC2", points: [
            .init(x: 1.2, y: 0.3, label: "I love it", group: "positive"),
            .init(x: 0.9, y: -0.2, label: "Wonderful day", group: "positive"),
            .init(x: -1.1, y: 0.4, label: "I hate it", group: "negative"),
            .init(x: -0.8, y: -0.6, label: "<b>awful</b> & \"bad\"", group: "negative"),
        ])
    }

    /// Attribution over a prompt's tokens.
    static var attributionStrip: TokenStrip {
        TokenStrip(title: "Occlusion attribution for \" Paris\"", tokens: ["The", " Eiffel", " Tower", " is", " in", "\n", "<script>"],
                   scores: [0.01, 0.42, 0.35, -0.05, 0.08, -0.21, .nan], valueLabel: "Δ p(answer)")
    }

    /// A model card.
    static var modelCard: Card {
        Card(title: "SmolLM2-135M-Instruct", [
            ("architecture", "llama"), ("layers", "30"), ("d_model", "576"), ("heads", "9 (3 kv)"),
            ("vocab", "49152"), ("quantisation", "Q4_1"), ("load time", "0.41 s"),
        ])
    }

    /// Attention-like grid: 4 heads over 5 tokens, rows summing to 1 below the diagonal.
    static var attentionGrid: HeatmapGrid {
        let tokens = ["<s>", "·The", "·cat", "·sat", "·down"]
        let panels = (0..<4).map { h -> Heatmap in
            var v: [[Double]] = []
            for q in 0..<5 {
                var row = (0..<5).map { (k: Int) -> Double in k <= q ? Double((q * 3 + k * (h + 1)) % 7 + 1) : 0 }
                let sum = row.reduce(0, +)
                row = row.map { $0 / sum }
                v.append(row)
            }
            return Heatmap(title: "head \(h)", xLabel: "key", yLabel: "query", rowLabels: tokens, columnLabels: tokens, values: v)
        }
        return HeatmapGrid(title: "Attention, layer 3", panels: panels, range: .fixed(0, 1), valueLabel: "attention")
    }
}

extension Fixtures {
    /// A cosine-similarity matrix with the values written in the cells.
    static var similarityHeatmap: Heatmap {
        let names = ["love−hate", "joy−grief", "Paris−Rome"]
        return Heatmap(title: "Cosine similarity", xLabel: "vector", yLabel: "vector", rowLabels: names, columnLabels: names,
                       values: [[1, 0.62, -0.08], [0.62, 1, 0.03], [-0.08, 0.03, 1]], scale: .diverging,
                       range: .fixed(-1, 1), valueLabel: "cosine", valueFormat: .fixed(2), showValues: true)
    }
}
