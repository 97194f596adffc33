import JupyterKernel
import JupyterProtocol
import Rendering
import XCTest
@testable import PeriscopeKernel

/// The progress bar's timing rules, with a controlled clock.
final class ProgressTests: XCTestCase {
    final class Clock: @unchecked Sendable { var now = 100.0 }

    func progressMessages(_ io: RecordingIO) -> [(id: String?, update: Bool, text: String)] {
        io.outputs.compactMap {
            guard case .display(let data, let id, let update) = $0 else { return nil }
            return (id, update, data["text/plain"]?.stringValue ?? "")
        }
    }

    func testNothingShownForShortWork() {
        let io = RecordingIO(), clock = Clock()
        let reporter = ProgressReporter(io: io, now: { clock.now })
        for step in 0..<50 {
            clock.now += 0.019
            reporter.report(Double(step) / 50, "step")
        }
        reporter.finish()
        XCTAssertTrue(io.outputs.isEmpty, "work under a second shows no bar")
        XCTAssertFalse(reporter.isShown)
    }

    func testThrottledToTenUpdatesASecondWithFinalUpdate() {
        let io = RecordingIO(), clock = Clock()
        let reporter = ProgressReporter(io: io, now: { clock.now })
        // 3 s of work reporting every 10 ms.
        for step in 1...300 {
            clock.now += 0.01
            reporter.report(Double(step) / 300, "layer \(step)")
        }
        reporter.finish()
        let messages = progressMessages(io)
        XCTAssertEqual(messages.first?.update, false, "first a display_data")
        XCTAssertTrue(messages.dropFirst().allSatisfy(\.update), "then update_display_data only")
        XCTAssertTrue(messages.allSatisfy { $0.id == reporter.displayID }, "one display_id throughout")
        // Shown at 1 s, then at most one update per 0.1 s over the remaining 2 s, plus the final one.
        XCTAssertLessThanOrEqual(reporter.updateCount, 21)
        XCTAssertGreaterThanOrEqual(reporter.updateCount, 15)
        XCTAssertTrue(messages.last?.text.contains("100%") ?? false, messages.last?.text ?? "")
    }

    func testReportsFromOtherThreadsAreDeferredToTheOwner() {
        let io = RecordingIO(), clock = Clock()
        let reporter = ProgressReporter(io: io, now: { clock.now })
        clock.now += 2
        let done = expectation(description: "background report")
        let thread = Thread { reporter.report(0.5, "elsewhere"); done.fulfill() }
        thread.start()
        wait(for: [done], timeout: 5)
        XCTAssertTrue(io.outputs.isEmpty, "never touches io off its thread")
        reporter.report(0.6, "here")
        XCTAssertEqual(progressMessages(io).count, 1)
    }

    func testTaskContextBridgesInterruptAndProgress() {
        let io = RecordingIO(), clock = Clock()
        let reporter = ProgressReporter(io: io, now: { clock.now })
        let task = reporter.taskContext(interrupted: InterruptFlag(io: io))
        XCTAssertFalse(task.isCancelled)
        clock.now += 1.5
        task.report(0.25, "layer 8/30")
        XCTAssertEqual(progressMessages(io).count, 1)
        XCTAssertTrue(progressMessages(io)[0].text.contains("layer 8/30"))
        io.isInterrupted = true
        XCTAssertTrue(task.isCancelled)
        XCTAssertThrowsError(try task.checkCancelled())
    }

    func testInterruptedWorkEndsTheBarWhereItStood() {
        let interpreter = generalInterpreter()
        interpreter.progressDelay = 0.1
        let io = RecordingIO()
        io.interrupt(after: 0.35)
        guard case .error = interpreter.execute(ExecuteRequest(code: "sleep 1"), io: io) else {
            return XCTFail("the interrupted sleep must fail")
        }
        let last = progressMessages(io).last
        XCTAssertEqual(last?.update, true)
        XCTAssertTrue(last?.text.contains("stopped") ?? false, last?.text ?? "")
        XCTAssertFalse(last?.text.contains("100%") ?? true, last?.text ?? "")
    }

    func testSleepShowsBarThroughTheInterpreter() {
        let interpreter = generalInterpreter()
        interpreter.progressDelay = 0.1
        let io = RecordingIO()
        XCTAssertEqual(interpreter.execute(ExecuteRequest(code: "sleep 0.4"), io: io), .ok)
        let messages = progressMessages(io)
        XCTAssertFalse(messages.isEmpty)
        XCTAssertEqual(messages.first?.update, false)
        XCTAssertTrue(messages.count <= 1 + 4 + 1, "throttled: \(messages.count)")
        XCTAssertTrue(messages.last?.text.contains("100%") ?? false)
    }
}
