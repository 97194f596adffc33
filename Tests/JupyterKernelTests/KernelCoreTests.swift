import Foundation
import XCTest
@testable import JupyterKernel
import JupyterKernelTesting
import JupyterProtocol

final class KernelCoreTests: XCTestCase {
    private var interpreter: TinyInterpreter!
    private var server: InMemoryServer!
    private var core: KernelCore!

    override func setUp() {
        interpreter = TinyInterpreter()
        server = InMemoryServer()
        core = KernelCore(interpreter: interpreter, server: server, history: HistoryStore(fileURL: nil))
    }

    private func execute(_ code: String, _ extra: [String: JSONValue] = [:], id: String = Header.newMessageID()) -> Message {
        var content: [String: JSONValue] = ["code": .string(code)]
        content.merge(extra) { _, new in new }
        return request("execute_request", content, id: id)
    }

    /// The only reply sent so far (fails the test if there is not exactly one).
    private func onlyReply(file: StaticString = #filePath, line: UInt = #line) -> Message? {
        let replies = server.replies
        XCTAssertEqual(replies.count, 1, "replies: \(replies.map(\.message.msgType))", file: file, line: line)
        return replies.first?.message
    }

    // MARK: - Bracketing and kernel_info

    func testStartPublishesStartingOnce() {
        core.start()
        XCTAssertEqual(server.publishedTypes, ["status"])
        XCTAssertEqual(server.published[0].content["execution_state"], "starting")
        XCTAssertTrue(server.published[0].parentHeader.isEmpty)
    }

    func testKernelInfoIsBracketedByBusyAndIdle() throws {
        let req = request("kernel_info_request", id: "ki-1")
        XCTAssertNil(core.handle(req, on: .shell))
        XCTAssertEqual(server.published.map { $0.content["execution_state"]?.stringValue }, ["busy", "idle"])
        XCTAssertTrue(server.published.allSatisfy { $0.parentHeader["msg_id"] == "ki-1" })
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.msgType, "kernel_info_reply")
        XCTAssertEqual(reply.parentHeader["msg_id"], "ki-1")
        XCTAssertEqual(reply.identities, [Data("client".utf8)])
        XCTAssertEqual(reply.content["protocol_version"], "5.3")
        XCTAssertEqual(reply.content["language_info"]?["name"], "tiny")
        XCTAssertEqual(reply.content["language_info"]?["file_extension"], ".tiny")
        XCTAssertEqual(reply.content["help_links"], [["text": "Tiny", "url": "https://example.org/tiny"]])
        XCTAssertEqual(reply.content["banner"], "Tiny test language")
    }

    func testKernelInfoAnswersOnControl() throws {
        core.handle(request("kernel_info_request"), on: .control)
        XCTAssertEqual(server.replies.first?.channel, .control)
    }

    // MARK: - execute

    func testExecuteSendsInputResultAndReplyInOrder() throws {
        core.handle(execute("hello", id: "e1"), on: .shell)
        XCTAssertEqual(server.publishedTypes, ["status", "execute_input", "execute_result", "status"])
        let input = server.published[1]
        XCTAssertEqual(input.content["code"], "hello")
        XCTAssertEqual(input.content["execution_count"], 1)
        XCTAssertEqual(server.published[2].content["execution_count"], 1)
        XCTAssertEqual(server.published[2].content["data"]?["text/plain"], "hello")
        XCTAssertTrue(server.published.allSatisfy { $0.parentHeader["msg_id"] == "e1" })
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.msgType, "execute_reply")
        XCTAssertEqual(reply.content["status"], "ok")
        XCTAssertEqual(reply.content["execution_count"], 1)
        XCTAssertEqual(reply.content["payload"], [])
        XCTAssertEqual(reply.content["user_expressions"], [:])
    }

    func testExecutionCountCountsOnlyStoredNonSilentCells() throws {
        core.handle(execute("a"), on: .shell)
        core.handle(execute("b", ["silent": true]), on: .shell)
        core.handle(execute("c", ["store_history": false]), on: .shell)
        core.handle(execute("d"), on: .shell)
        let counts = server.replies.map { $0.message.content["execution_count"]?.intValue }
        XCTAssertEqual(counts, [1, 1, 1, 2])
        XCTAssertEqual(core.currentExecutionCount, 2)
        XCTAssertEqual(interpreter.executed, ["a", "b", "c", "d"])
        XCTAssertEqual(core.history.all.map(\.source), ["a", "d"], "only stored cells enter history")
        XCTAssertEqual(core.history.all.map(\.line), [1, 2])
    }

    func testSilentSuppressesAllIOPubOutputButNotStatus() throws {
        for code in ["hello", "print hi", "show x", "fail"] {
            server.clear()
            core.handle(execute(code, ["silent": true]), on: .shell)
            XCTAssertEqual(server.publishedTypes, ["status", "status"], "cell \(code)")
            XCTAssertEqual(server.replies.count, 1)
        }
        XCTAssertEqual(server.replies.first?.message.content["status"], "error")
    }

    func testStreamsDisplaysAndPayloads() throws {
        core.handle(execute("print hi"), on: .shell)
        let stream = try XCTUnwrap(server.published.first { $0.msgType == "stream" })
        XCTAssertEqual(stream.content["name"], "stdout")
        XCTAssertEqual(stream.content["text"], "hi\n")

        server.clear()
        core.handle(execute("show x"), on: .shell)
        XCTAssertEqual(server.publishedTypes, ["status", "execute_input", "display_data", "update_display_data", "status"])
        XCTAssertEqual(server.published[2].content["transient"]?["display_id"], "d1")
        XCTAssertEqual(server.published[3].content["data"]?["text/plain"], "updated")

        server.clear()
        core.handle(execute("page some help"), on: .shell)
        let payload = try XCTUnwrap(onlyReply()?.content["payload"]?.arrayValue)
        XCTAssertEqual(payload.first?["source"], "page")
        XCTAssertEqual(payload.first?["data"]?["text/plain"], "some help")
    }

    func testErrorPublishesErrorAndReplies() throws {
        core.handle(execute("fail"), on: .shell)
        XCTAssertEqual(server.publishedTypes, ["status", "execute_input", "error", "status"])
        XCTAssertEqual(server.published[2].content["ename"], "TinyError")
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.content["status"], "error")
        XCTAssertEqual(reply.content["ename"], "TinyError")
        XCTAssertEqual(reply.content["evalue"], "it failed")
        XCTAssertEqual(reply.content["traceback"], ["line 1, column 1: it failed"])
        XCTAssertEqual(reply.content["execution_count"], 1)
    }

    func testUserExpressionsAreEvaluatedAfterSuccess() throws {
        core.handle(execute("x", ["user_expressions": ["up": "abc", "broken": "bad"]]), on: .shell)
        let expressions = try XCTUnwrap(onlyReply()?.content["user_expressions"])
        XCTAssertEqual(expressions["up"], ["status": "ok", "data": ["text/plain": "ABC"], "metadata": [:]])
        XCTAssertEqual(expressions["broken"]?["status"], "error")
        XCTAssertEqual(expressions["broken"]?["ename"], "TinyError")
    }

    // MARK: - stop_on_error

    func testStopOnErrorAbortsExecuteRequestsAlreadyQueued() throws {
        server.pending = [execute("queued-1", id: "q1"), request("kernel_info_request", id: "k1"), execute("queued-2", id: "q2")]
        core.handle(execute("fail", id: "f"), on: .shell)
        XCTAssertEqual(interpreter.executed, ["fail"], "queued cells must not run")
        let replies = server.replies.map { ($0.message.parentHeader["msg_id"]?.stringValue ?? "", $0.message.msgType,
                                            $0.message.content["status"]?.stringValue ?? "") }
        XCTAssertEqual(replies.map(\.0), ["f", "q1", "k1", "q2"])
        XCTAssertEqual(replies.map(\.2), ["error", "aborted", "ok", "aborted"])
        XCTAssertEqual(replies[1].1, "execute_reply")
        // Each aborted request still gets its own busy/idle bracket.
        let statuses = server.published.filter { $0.msgType == "status" }
            .map { "\($0.parentHeader["msg_id"]?.stringValue ?? ""):\($0.content["execution_state"]?.stringValue ?? "")" }
        XCTAssertEqual(statuses, ["f:busy", "f:idle", "q1:busy", "q1:idle", "k1:busy", "k1:idle", "q2:busy", "q2:idle"])

        // Aborting ends with the queue: the next request runs normally.
        server.clear()
        core.handle(execute("later"), on: .shell)
        XCTAssertEqual(onlyReply()?.content["status"], "ok")
    }

    func testQueueIsTakenBeforeTheErrorReplyLeaves() throws {
        // Only requests that arrived before the client could see the error are aborted: the
        // queue must be drained before the error reply is sent, never after.
        server.pending = [execute("queued")]
        core.handle(execute("fail"), on: .shell)
        XCTAssertEqual(server.events.prefix(2), ["take", "send:execute_reply:error"])
        XCTAssertEqual(server.events.last, "send:execute_reply:aborted")
    }

    func testSuccessfulCellsLeaveTheQueueAlone() {
        server.pending = [execute("queued")]
        core.handle(execute("fine"), on: .shell)
        XCTAssertEqual(server.pending.count, 1)
        XCTAssertFalse(server.events.contains("take"))
    }

    func testNoAbortWithoutStopOnErrorOrWhenSilent() {
        server.pending = [execute("queued")]
        core.handle(execute("fail", ["stop_on_error": false]), on: .shell)
        XCTAssertEqual(server.pending.count, 1, "stop_on_error false leaves the queue alone")
        core.handle(execute("fail", ["silent": true]), on: .shell)
        XCTAssertEqual(server.pending.count, 1, "a silent failure leaves the queue alone")
    }

    // MARK: - Interrupt and shutdown

    func testInterruptRequestReachesRunningCell() throws {
        let started = Date()
        let control = DispatchQueue(label: "control")
        control.asyncAfter(deadline: .now() + 0.1) { [core] in
            core?.handle(request("interrupt_request", id: "int"), on: .control)
        }
        core.handle(execute("wait", id: "w"), on: .shell)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "the interrupt must stop the cell early")
        control.sync {}
        let reply = try XCTUnwrap(server.replies.first { $0.message.parentHeader["msg_id"] == "w" }?.message)
        XCTAssertEqual(reply.content["ename"], "Interrupted")
        let interruptReply = try XCTUnwrap(server.replies.first { $0.message.msgType == "interrupt_reply" })
        XCTAssertEqual(interruptReply.channel, .control)
        XCTAssertEqual(interruptReply.message.content["status"], "ok")
        // The flag is reset for the next cell.
        server.clear()
        core.handle(execute("x"), on: .shell)
        XCTAssertFalse(core.isInterrupted)
    }

    func testShutdownEchoesRestartAndStops() throws {
        XCTAssertEqual(core.handle(request("shutdown_request", ["restart": true]), on: .control), .restart)
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.msgType, "shutdown_reply")
        XCTAssertEqual(reply.content, ["status": "ok", "restart": true])
        XCTAssertTrue(server.publishedTypes.contains("shutdown_reply"), "the reply is also broadcast on iopub")
        server.clear()
        XCTAssertEqual(core.handle(request("shutdown_request", ["restart": false]), on: .control), .shutdown)
    }

    func testControlRefusesShellRequests() throws {
        core.handle(execute("x"), on: .control)
        XCTAssertTrue(interpreter.executed.isEmpty)
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.msgType, "execute_reply")
        XCTAssertEqual(reply.content["status"], "error")
    }

    // MARK: - Other requests

    func testCompleteInspectAndIsComplete() throws {
        core.handle(request("complete_request", ["code": "pr", "cursor_pos": 2]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content,
                       ["status": "ok", "matches": ["print"], "cursor_start": 0, "cursor_end": 2, "metadata": [:]])
        core.handle(request("inspect_request", ["code": "print", "cursor_pos": 3, "detail_level": 1]), on: .shell)
        let inspect = try XCTUnwrap(server.replies.last?.message.content)
        XCTAssertEqual(inspect["found"], true)
        XCTAssertEqual(inspect["data"]?["text/plain"], "print: writes text (detail 1)")
        core.handle(request("inspect_request", ["code": "zzz", "cursor_pos": 1]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["found"], false)
        core.handle(request("is_complete_request", ["code": "a \\"]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content, ["status": "incomplete", "indent": "  "])
        core.handle(request("is_complete_request", ["code": ")"]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content, ["status": "invalid"])
    }

    func testCursorPastTheEndIsClamped() {
        core.handle(request("complete_request", ["code": "pr", "cursor_pos": 99]), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content["cursor_end"], 2)
    }

    func testCommsAreRefusedPolitely() throws {
        core.handle(request("comm_info_request"), on: .shell)
        XCTAssertEqual(server.replies.last?.message.content, ["status": "ok", "comms": [:]])
        server.clear()
        core.handle(request("comm_open", ["comm_id": "c9", "target_name": "jupyter.widget", "data": [:]]), on: .shell)
        XCTAssertTrue(server.replies.isEmpty)
        let close = try XCTUnwrap(server.published.first { $0.msgType == "comm_close" })
        XCTAssertEqual(close.content["comm_id"], "c9")
        server.clear()
        core.handle(request("comm_msg", ["comm_id": "c9", "data": [:]]), on: .shell)
        XCTAssertEqual(server.publishedTypes, ["status", "status"])
        XCTAssertTrue(server.replies.isEmpty)
    }

    func testUnknownMessageTypes() throws {
        core.handle(request("frobnicate_request", id: "u1"), on: .shell)
        XCTAssertEqual(server.publishedTypes, ["status", "status"], "unknown requests are bracketed too")
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.msgType, "frobnicate_reply")
        XCTAssertEqual(reply.content["status"], "error")
        XCTAssertEqual(reply.content["ename"], "UnknownMessageType")
        server.clear()
        core.handle(request("something_else"), on: .shell)
        XCTAssertTrue(server.replies.isEmpty, "non-requests get no reply")
        XCTAssertEqual(server.publishedTypes, ["status", "status"])
    }

    func testWrongTypedFieldsGetAnErrorReplyNotACrash() throws {
        core.handle(request("execute_request", ["code": 5]), on: .shell)
        let reply = try XCTUnwrap(onlyReply())
        XCTAssertEqual(reply.msgType, "execute_reply")
        XCTAssertEqual(reply.content["status"], "error")
        XCTAssertEqual(reply.content["ename"], "BadRequest")
        XCTAssertTrue(reply.content["evalue"]?.stringValue?.contains("\"code\"") ?? false)
        XCTAssertTrue(interpreter.executed.isEmpty)
        XCTAssertEqual(core.currentExecutionCount, 0)

        for bad: [String: JSONValue] in [["code": "x", "silent": "yes"], ["code": "x", "user_expressions": ["a": 1]],
                                         ["code": "x", "user_expressions": "nope"], [:]] {
            server.clear()
            core.handle(request("execute_request", bad), on: .shell)
            XCTAssertEqual(server.replies.first?.message.content["status"], "error", "\(bad)")
        }
        server.clear()
        core.handle(request("complete_request", ["code": "x", "cursor_pos": "end"]), on: .shell)
        XCTAssertEqual(server.replies.first?.message.content["status"], "error")
        server.clear()
        core.handle(request("history_request", ["hist_access_type": "sideways"]), on: .shell)
        XCTAssertEqual(server.replies.first?.message.content["status"], "error")
        XCTAssertTrue(interpreter.executed.isEmpty)
    }
}
