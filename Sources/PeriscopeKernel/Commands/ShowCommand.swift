/// `show x`: displays a value as display_data wherever it stands in the cell.
enum ShowCommand {
    static let spec = CommandSpec(
        name: "show",
        group: .general,
        synopsis: "show x",
        description: "Displays a value now, like IPython's `display`, even when it is not the last line of the cell.",
        positionals: [Parameter("x", .value, required: true, summary: "the value to display")],
        example: "show 0..3",
        run: { arguments, context in
            if let value = arguments.value("x") {
                context.display(value)
            }
            return nil
        })
}
