/// `prompt "text" [chat] [system "…"]`: tokenises a prompt with the current model.
enum PromptCommand {
    static let spec = CommandSpec(
        name: "prompt",
        group: .prompts,
        synopsis: "prompt \"text\" [chat] [system \"…\"]",
        description: "Makes a Prompt: the text tokenised by the current model, shown as its tokens. With `chat` the model's chat template wraps the text as a user turn and adds the assistant header (as Hugging Face's `apply_chat_template(add_generation_prompt=True)`); `system \"…\"` sets the system message (and implies `chat`). A plain string works wherever a prompt is expected; make a Prompt when you need the chat template or want to reuse it.",
        positionals: [Parameter("text", .string, required: true, summary: "the prompt's text")],
        keywords: [
            Parameter("chat", .flag, summary: "apply the model's chat template"),
            Parameter("system", .string, summary: "the system message of a chat prompt"),
        ],
        example: "p = prompt \"What is the capital of France?\" chat",
        run: { arguments, context in
            let range = arguments.range(of: "text")
            let model = try context.session.currentModel(range: arguments.headRange)
            let prompt = try PromptValue.make(text: arguments.string("text") ?? "", chat: arguments.flag("chat"),
                                              system: arguments.string("system"), model: model, range: range)
            return .object(prompt)
        })
}
