import Foundation
import Rendering
import Transformer

/// `generate p [max N] [temperature T] [seed S]`: continues a prompt, greedy by default.
enum GenerateCommand {
    static let spec = CommandSpec(
        name: "generate",
        group: .prompts,
        synopsis: "generate p [max N] [temperature T] [seed S]",
        description: "Continues a prompt, greedy by default. Each step reuses the KV cache. Greedy (the most likely token each step) unless `temperature` is above 0, in which case tokens are sampled, reproducibly for a given `seed`; without one a fresh seed is drawn and shown, so `seed S` repeats the run. Stops after `max` new tokens (default 32) or at the end-of-text / end-of-turn token. Interrupt stops it; the session is unchanged. The data carries the new ids, their text and `tokens_per_second`.",
        positionals: [Parameter("p", .prompt, required: true, summary: "the prompt")],
        keywords: [
            Parameter("max", .int, summary: "the most new tokens (default 32)"),
            Parameter("temperature", .float, summary: "0 for greedy (default); higher samples more freely"),
            Parameter("seed", .int, summary: "the sampling seed (default: a fresh one, shown)"),
        ],
        example: "generate \"Once upon a time\" max 40",
        run: { arguments, context in
            let model = try context.session.currentModel(range: arguments.headRange)
            guard let prompt = try arguments.prompt("p", session: context.session, model: model) else { return nil }
            let limit = model.config.contextLength - prompt.ids.count
            let maxTokens = arguments.int("max") ?? min(32, max(limit, 1))
            guard maxTokens >= 1 else {
                throw CommandError.outOfRange(what: "max", value: maxTokens, valid: "1 or more", range: arguments.range(of: "max"))
            }
            guard maxTokens <= limit else {
                throw CommandError.contextFull(promptTokens: prompt.ids.count, contextLength: model.config.contextLength,
                                               range: arguments.has("max") ? arguments.range(of: "max") : arguments.range(of: "p"))
            }
            let temperature = arguments.float("temperature") ?? 0
            guard temperature >= 0, temperature.isFinite else {
                throw CommandError.numberOutOfRange(what: "temperature", value: temperature, valid: "0 (greedy) or more",
                                                    range: arguments.range(of: "temperature"))
            }
            // Sampling without a seed draws one (shown with the result, so a rerun can repeat it).
            let drawn = temperature > 0 && !arguments.has("seed")
            let seed = arguments.int("seed") ?? (drawn ? Int.random(in: 1..<1_000_000) : 0)
            guard seed >= 0 else {
                throw CommandError.outOfRange(what: "seed", value: seed, valid: "0 or more", range: arguments.range(of: "seed"))
            }
            var result = try generate(model: model, prompt: prompt, maxTokens: maxTokens, temperature: temperature,
                                      seed: UInt64(seed), task: context.task)
            result.seedDrawn = drawn
            return .object(result)
        })

    /// Prefills the prompt, then decodes one token at a time from the KV cache.
    static func generate(model: LoadedModel, prompt: PromptValue, maxTokens: Int, temperature: Double, seed: UInt64,
                         task: TaskContext) throws -> Generation {
        // The forward pass only checks for interrupts; progress is counted in tokens here.
        let quiet = TaskContext(isCancelled: { task.isCancelled })
        var sampler = Sampler(temperature: Float(temperature), seed: seed)
        let stop = model.stopTokens
        var cache = model.model.makeCache()
        let start = Date()
        var logits = try model.model.prefill(prompt.ids, cache: &cache, context: quiet)
        let prefillSeconds = Date().timeIntervalSince(start)
        var ids: [Int] = []
        var stopped = false
        for step in 0..<maxTokens {
            try task.checkCancelled()
            let next = sampler.sample(logits)
            ids.append(next)
            task.report(Double(step + 1) / Double(maxTokens), "token \(step + 1)/\(maxTokens)")
            if stop.contains(next) { stopped = true; break }
            if step == maxTokens - 1 { break }
            logits = try model.model.prefill([next], cache: &cache, context: quiet)
        }
        let seconds = Date().timeIntervalSince(start)
        let shown = stopped ? Array(ids.dropLast()) : ids
        return Generation(prompt: prompt, ids: ids, text: model.tokenizer.decode(shown.map(Int32.init)),
                          tokens: ids.map { model.tokenizer.piece(Int32($0)) },
                          stopToken: stopped ? ids.last.map { model.tokenizer.piece(Int32($0)) } : nil,
                          temperature: temperature, seed: seed, seconds: seconds, prefillSeconds: prefillSeconds)
    }
}

// MARK: - Result

/// A prompt's continuation.
struct Generation: ValueContent {
    var prompt: PromptValue
    /// The new token ids (the stop token included when generation ended on one).
    var ids: [Int]
    /// The continuation's text (without the stop token).
    var text: String
    var tokens: [String]
    var stopToken: String?
    var temperature: Double
    var seed: UInt64
    var seconds: Double
    var prefillSeconds: Double
    /// Whether the seed was drawn at random (no `seed` was given).
    var seedDrawn = false

    /// New tokens per second over the whole call (prompt pass included).
    var tokensPerSecond: Double { seconds > 0 ? Double(ids.count) / seconds : 0 }
    /// Tokens per second of the decode steps alone.
    var decodeTokensPerSecond: Double {
        let decode = seconds - prefillSeconds
        return ids.count > 1 && decode > 0 ? Double(ids.count - 1) / decode : 0
    }

    var typeName: String { "Generation" }
    var summary: String {
        let shown = text.count > 40 ? String(text.prefix(37)) + "…" : text
        return "Generation \(quoted(shown)) (\(ids.count) new tokens)"
    }

    private var mode: String {
        temperature == 0 ? "greedy"
            : "temperature \(formatFloat(temperature)), seed \(seed)" + (seedDrawn ? " (drawn; add `seed \(seed)` to repeat)" : "")
    }

    private var footer: String {
        var s = "\(ids.count) new token\(ids.count == 1 ? "" : "s"), \(mode), "
        s += String(format: "%.1f tokens/s (%.2f s)", tokensPerSecond, seconds)
        if let stopToken { s += ", stopped at \(stopToken)" }
        return s
    }

    func render() -> MimeBundle {
        let head = prompt.chat ? "user: \(prompt.text)\nassistant:" : prompt.text
        let separator = prompt.chat ? " " : ""
        let plain = head + separator + "⟦" + text + "⟧\n(" + footer + ")"
        var html = "<div style=\"font-family:system-ui,sans-serif;font-size:13px\">"
        html += "<div style=\"white-space:pre-wrap;font-family:ui-monospace,monospace\">"
        html += "<span style=\"color:#777\">\(escapeHTML(head + separator))</span>"
        html += "<span style=\"font-weight:600;background:#eef5ff\">\(escapeHTML(text))</span></div>"
        html += "<div style=\"color:#666;font-size:11px;margin-top:3px\">\(escapeHTML(footer))</div></div>"
        let json: JSONOut = .object([
            ("kind", .string("generation")),
            ("model", .string(prompt.modelName)),
            ("prompt", .object([("text", .string(prompt.text)), ("chat", .bool(prompt.chat)),
                                ("ids", .array(prompt.ids.map { .int($0) }))])),
            ("ids", .array(ids.map { .int($0) })),
            ("tokens", .strings(tokens)),
            ("text", .string(text)),
            ("stop_token", stopToken.map { .string($0) } ?? .null),
            ("temperature", .num(temperature)),
            ("seed", .int(Int(seed))),
            ("seed_drawn", .bool(seedDrawn)),
            ("seconds", .num(seconds)),
            ("prefill_seconds", .num(prefillSeconds)),
            ("tokens_per_second", .num(tokensPerSecond)),
            ("decode_tokens_per_second", .num(decodeTokensPerSecond)),
        ])
        return MimeBundle(data: [MimeBundle.plain: plain, MimeBundle.html: html], json: json)
    }
}
