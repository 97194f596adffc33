import Foundation
import PeriscopeKernel
import PeriscopeLanguage

// A cell of the command language, read the ways the kernel and the language server read it
// without running it: is_complete, completion and inspection at a few cursor positions, and the
// document check (lexer, parser, command table and the argument binder against variables the
// document assigns). Every problem becomes its sentence and lies inside the document.

nonisolated(unsafe) private let interpreter: PeriscopeInterpreter = {
    let interpreter = PeriscopeInterpreter()
    interpreter.session.variables = ["p": .string("The Eiffel Tower is in"), "n": .int(3), "r": .range(0, 4),
                                     "xs": .list([.int(1), .float(2.5)]), "s": .symbol("all")]
    return interpreter
}()

/// Variables the checked document can name, as a notebook's earlier cells would assign them.
private let prelude = "p = \"The Eiffel Tower is in\"\nn = 3\nr = 0..4\nxs = [1, 2.5]\n"
private let preludeLength = prelude.unicodeScalars.count

func fuzzLanguage(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
    let code = String(decoding: input, as: UTF8.self)
    let length = code.unicodeScalars.count
    _ = interpreter.isComplete(code: code)
    // The end of the cell (where people type) and two positions the input's first and last
    // bytes pick, so the fuzzer steers the cursor.
    var cursors = [length]
    if let first = input.first, let last = input.last {
        cursors += [Int(first) * length / 255, Int(last) * length / 255]
    }
    for cursor in cursors {
        let completion = interpreter.complete(code: code, cursorPosition: cursor)
        precondition(0 <= completion.cursorStart && completion.cursorStart <= completion.cursorEnd
                     && completion.cursorEnd <= length, "a completion replaces text outside the cell")
        _ = interpreter.inspect(code: code, cursorPosition: cursor, detailLevel: 0)
    }
    let check = DocumentCheck(source: prelude + code)
    for problem in check.problems {
        precondition(!problem.message.isEmpty, "a problem without a sentence")
        precondition(0 <= problem.range.start.offset && problem.range.start.offset <= problem.range.end.offset
                     && problem.range.end.offset <= preludeLength + length, "a problem outside the document")
    }
    return check.problems.isEmpty ? .accepted : .refused
}
