import Foundation
import XCTest
@testable import JupyterKernel
import JupyterKernelTesting
import JupyterProtocol

final class HistoryTests: XCTestCase {
    func testHistoryPersistsAcrossKernelStartsWithNewSessionNumbers() throws {
        let file = temporaryDirectory().appendingPathComponent("history.jsonl")
        let first = KernelCore(interpreter: TinyInterpreter(), server: InMemoryServer(), history: HistoryStore(fileURL: file))
        for code in ["load \"smollm2\"", "p = prompt \"hi\"", "run p"] {
            first.handle(request("execute_request", ["code": .string(code)]), on: .shell)
        }
        XCTAssertEqual(first.history.session, 1)

        let server = InMemoryServer()
        let second = KernelCore(interpreter: TinyInterpreter(), server: server, history: HistoryStore(fileURL: file))
        XCTAssertEqual(second.history.session, 2, "each kernel start is a new session")
        second.handle(request("execute_request", ["code": "lens p"]), on: .shell)

        second.handle(request("history_request", ["hist_access_type": "tail", "n": 2, "output": false, "raw": true]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["history"], [[1, 3, "run p"], [2, 1, "lens p"]])

        second.handle(request("history_request", ["hist_access_type": "range", "session": -1, "start": 2, "stop": 4]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["history"], [[1, 2, "p = prompt \"hi\""], [1, 3, "run p"]])

        second.handle(request("history_request", ["hist_access_type": "range", "session": 0, "start": 1]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["history"], [[2, 1, "lens p"]])

        // Search looks at this session only ("run p" from session 1 also matches, but is not returned).
        second.handle(request("execute_request", ["code": "tokens p"]), on: .shell)
        second.handle(request("history_request", ["hist_access_type": "search", "pattern": "*p*", "n": 5]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["history"], [[2, 1, "lens p"], [2, 2, "tokens p"]])

        second.handle(request("history_request", ["hist_access_type": "tail", "n": 1, "output": true]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["history"], [[2, 2, ["tokens p", nil]]])

        // A third start sees a session even if the second ran nothing after its first cell.
        XCTAssertEqual(HistoryStore(fileURL: file).session, 3)
    }

    func testSessionNumberAdvancesEvenWithoutCells() {
        let file = temporaryDirectory().appendingPathComponent("h.jsonl")
        XCTAssertEqual(HistoryStore(fileURL: file).session, 1)
        XCTAssertEqual(HistoryStore(fileURL: file).session, 2)
    }

    func testLongHistoryFindsTheLatestSessionFromTheFileEnd() throws {
        let file = temporaryDirectory().appendingPathComponent("h.jsonl")
        var text = ""
        for session in 1...40 {
            for line in 1...50 {
                text += #"{"line":\#(line),"session":\#(session),"source":"cell \#(line) of session \#(session) ......"}"# + "\n"
            }
        }
        try Data(text.utf8).write(to: file)
        XCTAssertGreaterThan(text.utf8.count, 64 * 1024, "the file must be longer than the window read at start-up")
        let store = HistoryStore(fileURL: file)
        XCTAssertEqual(store.session, 41)
        XCTAssertEqual(store.all.count, 40 * 50, "every earlier cell is still readable")
        XCTAssertEqual(store.tail(1).first, HistoryStore.Entry(session: 40, line: 50, source: "cell 50 of session 40 ......"))
    }

    func testCorruptLinesAreSkipped() throws {
        let file = temporaryDirectory().appendingPathComponent("h.jsonl")
        try Data("{\"session\": 4, \"line\": 1, \"source\": \"ok\"}\nnot json\n{\"line\": 2}\n".utf8).write(to: file)
        let store = HistoryStore(fileURL: file)
        XCTAssertEqual(store.session, 5)
        XCTAssertEqual(store.all, [HistoryStore.Entry(session: 4, line: 1, source: "ok")])
    }

    func testStoresSharingOneFileNeverInterleaveLinesOrSessions() throws {
        let file = temporaryDirectory().appendingPathComponent("h.jsonl")
        let writers = 6, cells = 100
        // Sources longer than a pipe buffer and than one page, so a write could be split.
        let body = String(repeating: "0123456789abcdef", count: 600)
        let sessions = Locked([Int]())
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            let store = HistoryStore(fileURL: file)
            sessions.mutate { $0.append(store.session) }
            for line in 1...cells { store.append(line: line, source: "w\(w) c\(line) \(body)") }
        }
        XCTAssertEqual(Set(sessions.value).count, writers, "each store took its own session number")

        let text = try String(contentsOf: file, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "", "the file ends with a newline")
        XCTAssertEqual(lines.count - 1, writers * (cells + 1), "one line per record, none merged")
        for line in lines.dropLast() {
            XCTAssertNotNil(try? JSONValue.parse(Data(line.utf8)), "line is whole JSON: \(line.prefix(80))")
        }
        let all = HistoryStore(fileURL: file).all
        XCTAssertEqual(all.count, writers * cells)
        for session in sessions.value {
            let mine = all.filter { $0.session == session }
            XCTAssertEqual(mine.map(\.line), Array(1...cells), "session \(session) kept every cell in order")
            XCTAssertEqual(Set(mine.map { $0.source.prefix(3) }).count, 1, "one writer per session")
        }
    }

    func testTornLastLineIsSkippedAndDoesNotSwallowTheNextRecord() throws {
        let file = temporaryDirectory().appendingPathComponent("h.jsonl")
        // A kernel killed mid-write leaves a line without its end.
        try Data("{\"session\":1}\n{\"line\":1,\"session\":1,\"source\":\"kept\"}\n{\"line\":2,\"session\":1,\"sou".utf8).write(to: file)
        let next = HistoryStore(fileURL: file)
        XCTAssertEqual(next.session, 2)
        next.append(line: 1, source: "after the crash")
        let third = HistoryStore(fileURL: file)
        XCTAssertEqual(third.session, 3, "the second session's marker was not glued onto the torn line")
        XCTAssertEqual(third.all, [HistoryStore.Entry(session: 1, line: 1, source: "kept"),
                                   HistoryStore.Entry(session: 2, line: 1, source: "after the crash")])
    }

    func testSearchUniqueKeepsLatestOccurrence() {
        let store = HistoryStore(fileURL: nil)
        for (i, s) in ["run a", "run b", "run a", "tokens a"].enumerated() { store.append(line: i + 1, source: s) }
        XCTAssertEqual(store.search(pattern: "run*", n: nil, unique: true).map(\.line), [2, 3])
        XCTAssertEqual(store.search(pattern: "run*", n: nil, unique: false).map(\.line), [1, 2, 3])
        XCTAssertEqual(store.search(pattern: "*a", n: 1, unique: false).map(\.line), [4])
    }

    func testGlobMatching() {
        XCTAssertTrue(Glob.matches("*", ""))
        XCTAssertTrue(Glob.matches("lens*", "lens p layers 0..3"))
        XCTAssertFalse(Glob.matches("lens", "lens p"), "a glob matches the whole source")
        XCTAssertTrue(Glob.matches("r?n p", "run p"))
        XCTAssertTrue(Glob.matches("*[0-9]*", "layer 12"))
        XCTAssertFalse(Glob.matches("*[0-9]*", "layer"))
        XCTAssertTrue(Glob.matches("[!a]*", "bcd"))
        XCTAssertFalse(Glob.matches("[!a]*", "abc"))
        XCTAssertFalse(Glob.matches("Run*", "run"), "matching is case-sensitive")
        XCTAssertTrue(Glob.matches("a*b*c", "a--b--b--c"))
    }
}

/// A value shared between threads of a test.
private final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
