import JupyterProtocol
import XCTest
@testable import PeriscopeLSP

/// Random frames and random documents: the server answers or stays silent, never traps, and
/// everything it sends is a well-formed message. Seeded, so a failure reproduces.
final class FuzzTests: XCTestCase {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    /// Pieces of the language and of its mistakes, to build documents that reach deep into the parser and binder.
    static let pieces = ["lens", "lense", "patch", "patchscope", "trace", "p", "q", " = ", " ", " ", "\n", "\n\n", "[", "]", ",",
                         "\"", "\"text\"", "'", "..", "0..3", "-1", "2.5", "1.2.3", "#", "?", "\\", "\\\n", "layers", "layrs",
                         "top", "hook", "target", "into", "identity", "all", "last", "😀", "é", "\t", "=", ";", "}", "\u{0}"]

    func randomDocument(_ rng: inout SplitMix) -> String {
        (0..<rng.below(40)).map { _ in rng.pick(Self.pieces) }.joined()
    }

    func testRandomFramesAndDocumentsNeverCrashTheServer() {
        var rng = SplitMix(state: 0x5C0_9E)
        let client = LSPTestClient()
        _ = client.initialize()
        let uri = "file:///fuzz.scope"
        client.open("", uri: uri)
        let methods = ["textDocument/hover", "textDocument/completion", "textDocument/signatureHelp",
                       "textDocument/definition", "textDocument/documentSymbol", "textDocument/didChange",
                       "textDocument/didOpen", "$/cancelRequest", "nonsense", "initialize"]
        for round in 0..<1500 {
            var bytes: [UInt8] = []
            switch rng.below(6) {
            case 0:
                // Raw random bytes.
                bytes = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                // A header whose length disagrees with its body.
                let body = Array(randomDocument(&rng).utf8)
                bytes = Array("Content-Length: \(rng.below(body.count + 8))\r\n\r\n".utf8) + body
            case 2:
                // A valid frame with one byte changed.
                bytes = frame(["jsonrpc": "2.0", "id": .int(round), "method": .string(rng.pick(methods)), "params": client.at(rng.below(5), rng.below(30), uri: uri)])
                if !bytes.isEmpty { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            default:
                // A well-formed message with random params and, often, a random edit of the document.
                let method = rng.pick(methods)
                var params: JSONValue = client.at(rng.below(8) - 1, rng.below(40) - 2, uri: uri)
                if method == "textDocument/didChange" {
                    params = ["textDocument": ["uri": .string(uri), "version": .int(round)],
                              "contentChanges": [["range": lspRange(rng.below(6), rng.below(20), rng.below(6), rng.below(20)),
                                                  "text": .string(randomDocument(&rng))]]]
                } else if method == "textDocument/didOpen" {
                    params = ["textDocument": ["uri": .string(uri), "version": 1, "text": .string(randomDocument(&rng))]]
                } else if method == "$/cancelRequest" {
                    params = ["id": .int(round + rng.below(3))]
                }
                let isNotification = method.hasPrefix("textDocument/did") || method == "$/cancelRequest"
                var message: JSONValue = ["jsonrpc": "2.0", "method": .string(method), "params": params]
                if !isNotification, case .object(var members) = message {
                    members["id"] = rng.below(4) == 0 ? .string("r\(round)") : .int(round)
                    message = .object(members)
                }
                bytes = frame(message)
            }
            // Arrive in random pieces.
            var index = 0
            while index < bytes.count {
                let step = 1 + rng.below(bytes.count - index)
                for message in client.feed(Array(bytes[index..<(index + step)])) {
                    XCTAssertEqual(message["jsonrpc"], "2.0", "round \(round): \(message)")
                    XCTAssertTrue(message["id"] != nil || message["method"] != nil, "round \(round): \(message)")
                }
                index += step
            }
        }
        XCTAssertNil(client.server.exitCode)
    }

    func testRandomDocumentsCheckWithoutTrapping() {
        var rng = SplitMix(state: 42)
        let client = LSPTestClient()
        _ = client.initialize()
        for round in 0..<400 {
            let text = randomDocument(&rng)
            let diagnostics = client.open(text, uri: "file:///d\(round).scope")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.utf16.count }
            for diagnostic in diagnostics {
                // Every range lies inside the document, start before end.
                let start = diagnostic["range"]?["start"], end = diagnostic["range"]?["end"]
                let (l0, c0, l1, c1) = (start?["line"]?.intValue ?? -1, start?["character"]?.intValue ?? -1,
                                        end?["line"]?.intValue ?? -1, end?["character"]?.intValue ?? -1)
                XCTAssertTrue(l0 >= 0 && l0 < lines.count && l1 < lines.count && c0 <= lines[l0] && c1 <= lines[l1], "\(text.debugDescription): \(diagnostic)")
                XCTAssertTrue((l0, c0) <= (l1, c1), "\(text.debugDescription): \(diagnostic)")
            }
            for method in ["textDocument/hover", "textDocument/completion", "textDocument/signatureHelp", "textDocument/definition"] {
                let line = rng.below(lines.count)
                let response = client.request(method, client.at(line, rng.below(lines[line] + 1), uri: "file:///d\(round).scope"))
                XCTAssertNil(response["error"], "\(method) on \(text.debugDescription): \(response)")
            }
        }
    }
}
