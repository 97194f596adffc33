import Foundation
import Interpretability
import PeriscopeLanguage
import Rendering
import Transformer

/// `compare P1 P2 [top K]`: two prompts' next-token distributions side by side.
enum CompareCommand {
    static let spec = CommandSpec(
        name: "compare",
        group: .analysis,
        synopsis: "compare P1 P2 [top K]",
        description: "Counterfactual comparison: the next-token distributions of two prompts side by side (top K of each, default 10), the KL divergence between them (nats, both ways), and the K tokens whose probability moved most.",
        positionals: [Parameter("P1", .prompt, required: true, summary: "the first prompt"),
                      Parameter("P2", .prompt, required: true, summary: "the second prompt")],
        keywords: [Parameter("top", .int, summary: "how many tokens to list (default 10)")],
        example: "compare \"The capital of France is\" \"The capital of Italy is\" top 5",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let first = try arguments.prompt("P1", session: context.session, model: model),
                  let second = try arguments.prompt("P2", session: context.session, model: model) else { return nil }
            let k = arguments.int("top") ?? 10
            guard k >= 1, k <= 100 else {
                throw CommandError.outOfRange(what: "top", value: k, valid: "1..100", range: arguments.range(of: "top"))
            }
            let r = try CommandError.catching(at: arguments.headRange) {
                try Compare.nextToken(model: model.model, first: first.ids, second: second.ids, top: k, context: context.task)
            }
            func piece(_ id: Int) -> String { model.tokenizer.piece(Int32(id)) }
            let sideRows: [[Table.Cell]] = (0..<k).map { i in
                let a = r.topFirst[i], b = r.topSecond[i]
                return [.number(Double(i + 1), .integer),
                        .token(piece(a.token)), .number(a.first, .fixed(4), intensity: a.first),
                        .token(piece(b.token)), .number(b.second, .fixed(4), intensity: b.second)]
            }
            let kl = "KL(P1‖P2) = \(NumberFormat.fixed(4).format(r.klFirstToSecond)) nats, KL(P2‖P1) = \(NumberFormat.fixed(4).format(r.klSecondToFirst)) nats"
            let side = Table(title: "Next token: P1 \(first.summary) vs P2 \(second.summary)",
                             columns: [.init("#", alignment: .right), .init("P1 token"), .init("p", alignment: .right),
                                       .init("P2 token"), .init("p", alignment: .right)],
                             rows: sideRows, caption: kl, kind: "compare")
            let maxMove = r.movers.map { abs($0.change) }.max() ?? 1
            let moverRows: [[Table.Cell]] = r.movers.map { m in
                [.token(piece(m.token)), .number(m.first, .fixed(4)), .number(m.second, .fixed(4)),
                 .number(m.change, .fixed(4), intensity: maxMove > 0 ? abs(m.change) / maxMove : 0)]
            }
            let movers = Table(title: "Tokens that moved most", columns: [.init("token"), .init("p in P1", alignment: .right),
                                                                          .init("p in P2", alignment: .right), .init("change", alignment: .right)],
                               rows: moverRows, kind: "movers")
            func entries(_ list: [NextTokenComparison.Entry]) -> JSONOut {
                .array(list.map { e in .object([("id", .int(e.token)), ("token", .string(piece(e.token))),
                                                ("p1", .num(e.first)), ("p2", .num(e.second))]) })
            }
            var sideBundle = side.mimeBundle
            sideBundle.json = appending(side.json, [
                ("p1", .string(first.text)), ("p2", .string(second.text)),
                ("kl_p1_p2", .num(r.klFirstToSecond)), ("kl_p2_p1", .num(r.klSecondToFirst)),
                ("top_p1", entries(r.topFirst)), ("top_p2", entries(r.topSecond)), ("movers", entries(r.movers)),
            ])
            return VerbResults.result("Comparison", "comparison of two prompts; \(kl)", [sideBundle, movers.mimeBundle])
        })
}
