import Foundation
import JupyterKernel
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// The default model (SmolLM2) as the verb tests meet it: one interpreter per test class, with the
/// class's setup cell (which loads the model) run once, shared by its tests (loading takes seconds).
enum DefaultModelSession {
    /// Where the model cache keeps the default model.
    static var path: String {
        let home = ProcessInfo.processInfo.environment["PERISCOPE_HOME"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/periscope")
        return (home as NSString).appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    nonisolated(unsafe) private static var interpreters: [ObjectIdentifier: PeriscopeInterpreter] = [:]
    private static let lock = NSLock()

    /// The interpreter `owner` shares between its tests, made on first use by running `setup` (a
    /// cell that loads the model, e.g. `load "smollm2"`). Skips the test when the model is not in the cache.
    static func interpreter(for owner: AnyClass, setup: String, file: StaticString = #filePath,
                            line: UInt = #line) throws -> PeriscopeInterpreter {
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("the default model is missing at \(path); `make model` fetches it")
        }
        lock.lock()
        defer { lock.unlock() }
        if let shared = interpreters[ObjectIdentifier(owner)] { return shared }
        let interpreter = PeriscopeInterpreter()
        let outcome = interpreter.execute(ExecuteRequest(code: setup), io: RecordingIO())
        XCTAssertEqual(outcome, .ok, "the setup cell of \(owner)", file: file, line: line)
        interpreters[ObjectIdentifier(owner)] = interpreter
        return interpreter
    }
}

extension PeriscopeInterpreter {
    /// Runs `code` as one cell, which must succeed, and returns its execute_result's text/plain and
    /// its vnd JSON, parsed. The result must carry text/plain and never plain application/json.
    func result(_ code: String, file: StaticString = #filePath, line: UInt = #line) throws -> (text: String, json: [String: Any]) {
        let io = RecordingIO()
        let outcome = execute(ExecuteRequest(code: code), io: io)
        XCTAssertEqual(outcome, .ok, "\(code)", file: file, line: line)
        for case .result(let data) in io.outputs {
            let text = try XCTUnwrap(data["application/vnd.periscope.v1+json"]?.serialized(), file: file, line: line)
            XCTAssertNotNil(data["text/plain"], file: file, line: line)
            XCTAssertNil(data["application/json"], file: file, line: line)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], file: file, line: line)
            return (data["text/plain"]?.stringValue ?? "", json)
        }
        XCTFail("no execute_result for \(code)", file: file, line: line)
        return ("", [:])
    }

    /// The vnd JSON of the cell's execute_result, parsed.
    func payload(_ code: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try result(code, file: file, line: line).json
    }

    /// The error message of a cell that must fail.
    func errorMessage(_ code: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let outcome = execute(ExecuteRequest(code: code), io: RecordingIO())
        guard case .error(_, let value, _) = outcome else {
            XCTFail("expected an error from \(code)", file: file, line: line)
            return ""
        }
        return value
    }
}
