import Foundation
import XCTest
import JupyterKernel
import JupyterKernelTesting
import JupyterProtocol

/// Checks the message examples under `protocol/messages/` (one per implemented message type)
/// against what `KernelCore` really sends: same reply type, same top-level fields, same JSON kinds.
final class ProtocolExamplesTests: XCTestCase {
    private var examplesFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/messages")
    }

    private func loadExamples() throws -> [String: JSONValue] {
        let files = try FileManager.default.contentsOfDirectory(at: examplesFolder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
        var examples: [String: JSONValue] = [:]
        for file in files {
            let value = try JSONValue.parse(try Data(contentsOf: file))
            let name = file.deletingPathExtension().lastPathComponent
            XCTAssertEqual(value["msg_type"]?.stringValue, name, "\(file.lastPathComponent): msg_type must match the file name")
            XCTAssertNotNil(value["content"]?.objectValue, "\(name): content must be an object")
            XCTAssertNotNil(["shell", "control", "iopub"].firstIndex(of: value["channel"]?.stringValue ?? ""), "\(name): channel")
            examples[name] = value
        }
        return examples
    }

    /// A coarse JSON kind, so "execution_count is an int" is checked without comparing values.
    private func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "double"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private func assertSameShape(_ actual: JSONValue?, _ expected: JSONValue?, _ what: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        guard let a = actual?.objectValue, let e = expected?.objectValue else {
            return XCTFail("\(what): missing content", file: file, line: line)
        }
        XCTAssertEqual(Set(a.keys), Set(e.keys), "\(what): fields differ", file: file, line: line)
        for (key, value) in e {
            guard let other = a[key] else { continue }
            XCTAssertEqual(kind(other), kind(value), "\(what).\(key): kind differs", file: file, line: line)
        }
    }

    func testEveryExampleMatchesWhatTheKernelSends() throws {
        let examples = try loadExamples()
        XCTAssertGreaterThanOrEqual(examples.count, 20)
        let server = InMemoryServer()
        let core = KernelCore(interpreter: TinyInterpreter(), server: server, history: HistoryStore(fileURL: nil))

        for (name, example) in examples.sorted(by: { $0.key < $1.key }) where example["channel"] != "iopub" {
            guard let content = example["content"]?.objectValue, let channelName = example["channel"]?.stringValue,
                  let channel = Channel(rawValue: channelName) else { continue }
            let before = server.replies.count
            core.handle(request(name, content), on: channel)
            let replies = server.replies.dropFirst(before)
            if let expected = example["reply"] {
                XCTAssertEqual(replies.count, 1, "\(name): one reply")
                guard let reply = replies.first else { continue }
                XCTAssertEqual(reply.channel, channel, "\(name): reply channel")
                XCTAssertEqual(reply.message.msgType, expected["msg_type"]?.stringValue, "\(name): reply type")
                assertSameShape(reply.message.content, expected["content"], name)
            } else {
                XCTAssertTrue(replies.isEmpty, "\(name) gets no reply")
            }
        }

        // Cells that make the kernel publish every kind of iopub message.
        for code in ["print hi", "show x", "fail", "clear", "hello"] {
            core.handle(request("execute_request", ["code": .string(code)]), on: .shell)
        }
        var seen: [String: Message] = [:]
        for message in server.published where seen[message.msgType] == nil { seen[message.msgType] = message }
        for (name, example) in examples where example["channel"] == "iopub" {
            if name == "iopub_welcome" {
                // Sent by the ZeroMQ server itself (see ZMQServerTests); check the documented field.
                XCTAssertEqual(example["content"]?["subscription"]?.stringValue, "")
                continue
            }
            guard let message = seen[name] else {
                XCTFail("the kernel never published \(name)")
                continue
            }
            assertSameShape(message.content, example["content"], name)
        }
    }
}
