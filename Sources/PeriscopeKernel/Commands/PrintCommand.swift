/// `print value`: writes the value to the cell's stdout (strings without quotes).
enum PrintCommand {
    static let spec = CommandSpec(
        name: "print",
        group: .general,
        synopsis: "print value",
        description: "Writes a value to standard output: strings as they are, anything else as its text display.",
        positionals: [Parameter("value", .value, required: true, summary: "what to write")],
        example: "print \"hello\"",
        run: { arguments, context in
            if let value = arguments.value("value") {
                context.write(value.printedText + "\n")
            }
            return nil
        })
}
