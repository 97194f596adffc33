import Foundation
import PeriscopeLanguage
@testable import PeriscopeKernel

// libFuzzer target: a cell of the command language. It is lexed and parsed; every command
// statement whose verb exists is bound to the verb's parameters (nothing runs); every error is
// turned into its sentence; the editor helpers read the cell at every cursor position.

nonisolated(unsafe) private let table = CommandTable.standard
nonisolated(unsafe) private let session: Session = {
    let session = Session()
    session.variables = ["p": .string("The Eiffel Tower is in"), "n": .int(3), "r": .range(0, 4),
                         "xs": .list([.int(1), .float(2.5)]), "s": .symbol("all")]
    return session
}()

func fuzzLanguage(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    let code = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    _ = completeness(of: code)
    let length = code.utf16.count
    for offset in stride(from: 0, through: length, by: max(1, length / 16)) {
        _ = wordAtCursor(in: code, cursorOffset: offset)
    }
    switch parse(code) {
    case .failure(let error):
        _ = error.description
    case .success(let statements):
        for statement in statements {
            guard case .command(let head, let headRange, let arguments) = statement.body, let spec = table[head] else { continue }
            do {
                _ = try ArgumentBinder(spec: spec, session: session).bind(arguments, headRange: headRange)
            } catch {
                _ = String(describing: error)
            }
        }
    }
    return 0
}
