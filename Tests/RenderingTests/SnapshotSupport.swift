import Foundation
import XCTest

// MARK: - Snapshot files

/// Compares rendered text with `Snapshots/<name>` beside this file. With `RECORD_SNAPSHOTS=1`
/// in the environment the file is (re)written instead; a missing snapshot is recorded and the
/// test fails, so that a new snapshot is always looked at before it is trusted.
func assertSnapshot(_ actual: String, named name: String, file: StaticString = #filePath, line: UInt = #line) {
    let directory = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().appendingPathComponent("Snapshots")
    let url = directory.appendingPathComponent(name)
    let record = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
    let existing = try? String(contentsOf: url, encoding: .utf8)
    if record || existing == nil {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
        } catch {
            XCTFail("could not write snapshot \(name): \(error)", file: file, line: line)
        }
        if existing == nil && !record {
            XCTFail("snapshot \(name) was missing and has been recorded; check it and run again", file: file, line: line)
        }
        return
    }
    guard let existing, existing != actual else { return }
    // Point at the first differing line so a failure is readable.
    let a = existing.components(separatedBy: "\n"), b = actual.components(separatedBy: "\n")
    let index = (0..<min(a.count, b.count)).first(where: { a[$0] != b[$0] }) ?? min(a.count, b.count)
    let expectedLine = index < a.count ? String(a[index].prefix(300)) : "<end>"
    let actualLine = index < b.count ? String(b[index].prefix(300)) : "<end>"
    XCTFail("""
        snapshot \(name) differs at line \(index + 1) (run with RECORD_SNAPSHOTS=1 to accept):
          expected: \(expectedLine)
          actual:   \(actualLine)
        """, file: file, line: line)
}

/// Parses vnd JSON text with Foundation, failing the test when it is not a JSON object.
func parseJSONObject(_ text: String?, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
    guard let text, let data = text.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        XCTFail("payload is not a JSON object: \(text?.prefix(200) ?? "nil")", file: file, line: line)
        return [:]
    }
    return object
}
