import Foundation
import PeriscopeLanguage
import Rendering
import Transformer

// MARK: - Prompt

/// A prompt tokenised by a model: the text, whether the chat template was applied, its token ids
/// and each token's text. Strings given where a prompt is expected become one of these.
public struct PromptValue: ValueContent, Sendable, Equatable {
    /// The text as the user wrote it (before any chat template).
    public var text: String
    /// Whether the model's chat template wrapped the text as a user turn.
    public var chat: Bool
    /// The system message of a chat prompt, if one was given.
    public var system: String?
    /// The token ids the model sees.
    public var ids: [Int]
    /// Each token's text, as it decodes on its own.
    public var tokens: [String]
    /// The path of the model whose tokenizer made `ids` (prompts are re-tokenised for another model).
    public var modelPath: String
    public var modelName: String

    public var typeName: String { "Prompt" }
    public var summary: String {
        let shown = text.count > 40 ? String(text.prefix(37)) + "…" : text
        return "Prompt \(quoted(shown)) (\(ids.count) token\(ids.count == 1 ? "" : "s")\(chat ? ", chat" : ""))"
    }

    /// Tokenises `text` with `model`: plain text gets the tokenizer's own special tokens (BOS when
    /// the model asks for it); with `chat` the model's chat template wraps it as a user turn
    /// (after `system`, if given) and adds the assistant header, as Hugging Face's
    /// `apply_chat_template(add_generation_prompt=True)` does.
    public static func make(text: String, chat: Bool = false, system: String? = nil, model: LoadedModel,
                            range: SourceRange?) throws -> PromptValue {
        guard !text.isEmpty else {
            throw CommandError.emptyPrompt(text: "", range: range)
        }
        let ids: [Int32]
        if chat || system != nil {
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: text))
            let templated: String
            do {
                templated = try model.tokenizer.applyChatTemplate(messages, addGenerationPrompt: true)
            } catch let error as TokenizerError {
                throw CommandError.chatTemplate(model: model.name, error, range: range)
            }
            ids = model.tokenizer.encode(templated, addSpecial: false, parseSpecial: true)
        } else {
            ids = model.tokenizer.encode(text)
        }
        guard !ids.isEmpty else {
            throw CommandError.emptyPrompt(text: text, range: range)
        }
        return PromptValue(text: text, chat: chat || system != nil, system: system, ids: ids.map(Int.init),
                           tokens: ids.map { model.tokenizer.piece($0) }, modelPath: model.path, modelName: model.name)
    }

    /// The same prompt tokenised for `model` (itself when `model` made it).
    public func retokenized(for model: LoadedModel, range: SourceRange?) throws -> PromptValue {
        if model.path == modelPath { return self }
        return try PromptValue.make(text: text, chat: chat, system: system, model: model, range: range)
    }

    /// The position of the last token of the first occurrence of `needle` in the prompt's decoded
    /// text (`position "Tower"`), or nil when it does not occur.
    public func locate(_ needle: String) -> Int? {
        guard !needle.isEmpty else { return nil }
        // Token i covers characters [ends[i-1], ends[i]) of the concatenated token texts.
        var joined = ""
        var ends: [String.Index] = []
        for token in tokens {
            joined += token
            ends.append(joined.endIndex)
        }
        guard let match = joined.range(of: needle) else { return nil }
        return ends.firstIndex { $0 >= match.upperBound }
    }

    // MARK: Rendering

    public func render() -> MimeBundle {
        let head = "Prompt: \(ids.count) token\(ids.count == 1 ? "" : "s")" + (chat ? " (chat template)" : "")
            + " — \(modelName)"
        let plain = head + "\n" + tokens.map { "[\(visibleToken($0))]" }.joined()

        var html = "<div style=\"font-family:system-ui,sans-serif;font-size:13px\">"
        html += "<div style=\"color:#666;margin-bottom:3px\">\(escapeHTML(head))</div><div style=\"line-height:1.9\">"
        for (i, token) in tokens.enumerated() {
            html += "<span title=\"position \(i), id \(ids[i])\" style=\"font-family:ui-monospace,monospace;white-space:pre;"
                + "border:1px solid #bbb;border-radius:3px;padding:1px 3px;margin:0 2px 0 0;background:\(i % 2 == 0 ? "#f3f6fb" : "#fbf7f0")\">"
                + escapeHTML(visibleToken(token)) + "</span>"
        }
        html += "</div></div>"
        return MimeBundle(data: [MimeBundle.plain: plain, MimeBundle.html: html], json: json)
    }

    /// `{"kind":"prompt","text","chat","system","model","ids","tokens"}`.
    public var json: JSONOut {
        .object([
            ("kind", .string("prompt")),
            ("text", .string(text)),
            ("chat", .bool(chat)),
            ("system", system.map { .string($0) } ?? .null),
            ("model", .string(modelName)),
            ("ids", .array(ids.map { .int($0) })),
            ("tokens", .strings(tokens)),
        ])
    }
}

// MARK: - Resolving prompt arguments

extension Session {
    /// The prompt a `.prompt` argument stands for, tokenised for `model` (default: the current
    /// model): a string literal becomes a plain prompt, a Prompt variable is re-tokenised if another
    /// model made it.
    public func prompt(from value: Value, model: LoadedModel? = nil, range: SourceRange?) throws -> PromptValue {
        let model = try model ?? currentModel(range: range)
        switch value {
        case .string(let text):
            return try PromptValue.make(text: text, model: model, range: range)
        case .object(let content as PromptValue):
            return try content.retokenized(for: model, range: range)
        default:
            throw CommandError.notAPrompt(given: withArticle(value.typeName), range: range)
        }
    }
}

extension BoundArguments {
    /// The prompt bound to `name`, tokenised for the current model (see `Session.prompt(from:)`).
    public func prompt(_ name: String, session: Session, model: LoadedModel? = nil) throws -> PromptValue? {
        guard let value = value(name) else { return nil }
        return try session.prompt(from: value, model: model, range: range(of: name))
    }
}
