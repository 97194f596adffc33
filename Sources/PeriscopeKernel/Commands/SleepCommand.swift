import Foundation

/// `sleep seconds`: waits, reporting progress and stopping at once on interrupt. Handy to try
/// the progress bar and interrupts without a model.
enum SleepCommand {
    static let spec = CommandSpec(
        name: "sleep",
        group: .general,
        synopsis: "sleep seconds",
        description: "Waits the given number of seconds with a progress bar; an interrupt stops it at once.",
        positionals: [Parameter("seconds", .float, required: true, summary: "how long to wait")],
        example: "sleep 2",
        run: { arguments, context in
            let seconds = arguments.float("seconds") ?? 0
            guard seconds >= 0, seconds <= 86_400 else {
                throw CommandError.numberOutOfRange(what: "seconds", value: seconds, valid: "between 0 and 86400",
                                          range: arguments.range(of: "seconds"))
            }
            let start = Date()
            while true {
                try context.task.checkCancelled()
                let elapsed = Date().timeIntervalSince(start)
                if elapsed >= seconds { break }
                context.task.report(elapsed / seconds, String(format: "sleep %gs", seconds))
                Thread.sleep(forTimeInterval: min(0.02, seconds - elapsed))
            }
            context.task.report(1, String(format: "sleep %gs", seconds))
            return nil
        })
}
