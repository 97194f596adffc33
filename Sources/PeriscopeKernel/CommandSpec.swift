import JupyterKernel
import PeriscopeLanguage
import Rendering
import Transformer

// MARK: - Value kinds

/// What a parameter accepts; the binder checks it and the help text names it.
public enum ValueKind: Sendable, Equatable {
    /// Any value: a literal or a variable.
    case value
    /// A prompt: a string literal or a variable holding a prompt.
    case prompt
    /// One prompt or a list of prompts.
    case prompts
    case int
    /// A float; ints are accepted.
    case float
    case string
    /// An int, a range, a list of ints, or `all`.
    case layers
    /// An int (negative from the end), a range, `all`, `last`, or a string (the last token of
    /// its first occurrence in the prompt).
    case positions
    /// No value: the keyword's presence is the value (`chat`).
    case flag
    /// One of the listed words, or also an int when `allowsInt` (`target_layer same|N`).
    case choice([String], allowsInt: Bool)
    /// A bare name taken as written, not looked up (`help lens`); a string literal works too.
    case name
    /// A variable (or value) whose `typeName` is the given one, e.g. "Vector" or "Model".
    case typed(String)

    /// How the kind reads in help and error messages ("an int", "layers (int, range, list or all)").
    public var phrase: String {
        switch self {
        case .value: return "a value"
        case .prompt: return "a prompt (a string or a prompt variable)"
        case .prompts: return "a prompt or a list of prompts"
        case .int: return "an int"
        case .float: return "a number"
        case .string: return "a string"
        case .layers: return "layers (an int, a range like 0..29, a list, or `all`)"
        case .positions: return "positions (an int, a range, `all`, `last`, or a string in the prompt)"
        case .flag: return "nothing (it is a flag)"
        case .choice(let words, let allowsInt):
            let options = words.map { "`\($0)`" } + (allowsInt ? ["an int"] : [])
            return "one of " + options.joined(separator: ", ")
        case .name: return "a name"
        case .typed(let type): return "a \(type)"
        }
    }

    /// Short placeholder for synopses: `K`, `R`, `"text"`.
    public var placeholder: String {
        switch self {
        case .value: return "x"
        case .prompt: return "p"
        case .prompts: return "P"
        case .int: return "N"
        case .float: return "X"
        case .string: return "\"…\""
        case .layers: return "R"
        case .positions: return "S"
        case .flag: return ""
        case .choice(let words, let allowsInt): return (words + (allowsInt ? ["N"] : [])).joined(separator: "|")
        case .name: return "name"
        case .typed(let type): return type.lowercased()
        }
    }

    /// Bare words that are valid values of this kind (offered by completion).
    public var words: [String] {
        switch self {
        case .layers: return ["all"]
        case .positions: return ["all", "last"]
        case .choice(let words, _): return words
        default: return []
        }
    }
}

// MARK: - Parameters

/// A positional parameter or a keyword of a verb.
public struct Parameter: Sendable {
    public var name: String
    public var kind: ValueKind
    public var isRequired: Bool
    public var summary: String
    /// Bare words a `.value` parameter takes besides values (`on local`). A near miss of one of
    /// them (`on locl`) reaches the verb as that word, so the verb's own check names the valid
    /// values, instead of failing as an undefined variable; a variable of that name still wins.
    public var words: [String]
    /// Names offered by completion for this parameter, e.g. hook names; reads the session.
    public var completions: (@Sendable (Session, CommandTable) -> [String])?

    public init(_ name: String, _ kind: ValueKind, required: Bool = false, summary: String = "", words: [String] = [],
                completions: (@Sendable (Session, CommandTable) -> [String])? = nil) {
        self.name = name; self.kind = kind; self.isRequired = required; self.summary = summary
        self.words = words
        self.completions = completions
    }
}

// MARK: - Commands

/// The groups of verbs, in the order `help` and the README list them.
public enum CommandGroup: String, Sendable, CaseIterable {
    case general = "General"
    case models = "Models"
    case prompts = "Prompts and runs"
    case lenses = "Lenses and attention"
    case patching = "Patchscopes and patching"
    case analysis = "Steering and analysis"
}

/// A verb, declared once in its own file under `Commands/`: its help, its parameters and what it
/// does. The command table built from these is the single source for help, completion and inspection.
///
/// Adding a verb is one file plus one line in `CommandTable.standard`:
///
///     enum LensCommand {
///         static let spec = CommandSpec(
///             name: "lens", group: .lenses,
///             synopsis: "lens p [layers R] [positions S] [top K] [hook H]",
///             description: "Logit lens: …",
///             positionals: [Parameter("p", .prompt, required: true)],
///             keywords: [Parameter("layers", .layers), Parameter("top", .int, summary: "tokens per cell")],
///             example: "lens \"The Eiffel Tower is in\" layers 0..29",
///             run: { args, context in
///                 let layers = try (args.layers("layers") ?? LayerSelection(.all)).resolve(layerCount: 30)
///                 … // long work: pass `context.task` down (cancellation + progress bar)
///                 return .result(RenderedResult(typeName: "LogitLens", summary: "…", bundle: heatmap.mimeBundle))
///             })
///     }
///
/// The binder has already checked every argument's kind; errors a verb finds itself are
/// `CommandError`s with the argument's range (`args.range(of: "layers")`) so they point into the cell.
public struct CommandSpec: Sendable {
    public var name: String
    public var group: CommandGroup
    /// One line: `lens p [layers R] [positions S] [top K] [hook H]`.
    public var synopsis: String
    /// A few sentences on what the verb does and returns.
    public var description: String
    public var positionals: [Parameter]
    public var keywords: [Parameter]
    public var example: String
    /// Words that change meaning after a keyword: `patch … into T layer L2 position I2` reads the
    /// second `layer`/`position` as `target_layer`/`target_position` (`["into": ["layer": "target_layer", …]]`).
    public var renamesAfter: [String: [String: String]]
    public var run: @Sendable (BoundArguments, CommandContext) throws -> Value?

    public init(name: String, group: CommandGroup, synopsis: String, description: String,
                positionals: [Parameter] = [], keywords: [Parameter] = [], example: String,
                renamesAfter: [String: [String: String]] = [:],
                run: @escaping @Sendable (BoundArguments, CommandContext) throws -> Value?) {
        self.name = name; self.group = group; self.synopsis = synopsis; self.description = description
        self.positionals = positionals; self.keywords = keywords; self.example = example
        self.renamesAfter = renamesAfter; self.run = run
    }

    /// The keyword declaration named `word`, if any.
    public func keyword(_ word: String) -> Parameter? { keywords.first { $0.name == word } }
}

// MARK: - Session state

/// A typed slot in the session for state that lives across cells (the current model, caches),
/// declared by whoever needs it in their own file: `enum CurrentModelKey: SessionKey { … }`.
public protocol SessionKey {
    associatedtype Value
}

/// What stays between cells: the variables and any state verbs keep under a `SessionKey`.
public final class Session {
    /// Variables by name.
    public var variables: [String: Value] = [:]
    private var state: [ObjectIdentifier: Any] = [:]

    public init() {}

    public subscript<K: SessionKey>(key: K.Type) -> K.Value? {
        get { state[ObjectIdentifier(key)] as? K.Value }
        set { state[ObjectIdentifier(key)] = newValue }
    }

    /// Variable names, sorted, for completion and suggestions.
    public var variableNames: [String] { variables.keys.sorted() }

    /// The names of the variables that hold a model, sorted (the words a `model` slot accepts besides loaded names).
    var modelVariableNames: [String] { variableNames.filter { variables[$0]?.loadedModel != nil } }
}

// MARK: - Context

/// What a running verb gets besides its arguments: outputs, the session, the table, progress
/// and the cancellation bridge.
public final class CommandContext {
    public let io: ExecutionIO
    public let session: Session
    public let table: CommandTable
    /// The statement being run (for error locations).
    public let statement: Statement
    /// The live progress bar; verbs usually go through `task` instead.
    public let progress: ProgressReporter
    /// Pass this down into long work: it reads the interrupt flag and feeds the progress bar.
    public let task: TaskContext

    init(io: ExecutionIO, session: Session, table: CommandTable, statement: Statement,
         progress: ProgressReporter) {
        self.io = io; self.session = session; self.table = table; self.statement = statement
        self.progress = progress
        self.task = progress.taskContext(interrupted: InterruptFlag(io: io))
    }

    /// Shows a value as display_data now (what `show` does).
    public func display(_ value: Value) {
        io.display(jupyterData(value.render()), metadata: [:], displayID: nil, update: false)
    }

    /// Writes text to the cell's stdout stream.
    public func write(_ text: String) { io.stream("stdout", text) }

    /// Writes text to the cell's stderr stream (warnings).
    public func warn(_ text: String) { io.stream("stderr", text) }
}
