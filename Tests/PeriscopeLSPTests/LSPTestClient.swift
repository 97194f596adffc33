import Foundation
import JupyterProtocol
@testable import PeriscopeLSP

/// Drives a `LanguageServer` the way an editor does, through real frames: each message is
/// framed, decoded by `FrameDecoder` and handed over; what the server sends is collected.
final class LSPTestClient {
    private(set) var sent: [JSONValue] = []
    var server: LanguageServer!
    private var decoder = FrameDecoder()
    private var nextID = 1

    init() {
        server = LanguageServer { [unowned self] message in
            // Every message out must survive our own framing and parsing.
            var check = FrameDecoder()
            check.append(frame(message))
            guard case .message(let body)? = check.next(), let parsed = try? JSONValue.parse(Data(body)) else {
                fatalError("the server sent a message that does not frame: \(message)")
            }
            self.sent.append(parsed)
        }
    }

    /// Feeds raw bytes (possibly garbage) and returns what the server sent in answer.
    @discardableResult
    func feed(_ bytes: [UInt8]) -> [JSONValue] {
        let before = sent.count
        decoder.append(bytes)
        server.receive(decoder.items())
        return Array(sent[before...])
    }

    @discardableResult
    func feed(_ messages: [JSONValue]) -> [JSONValue] {
        feed(messages.flatMap { frame($0) })
    }

    /// Sends a request and returns its response.
    func request(_ method: String, _ params: JSONValue = [:]) -> JSONValue {
        let id = nextID
        nextID += 1
        let out = feed([["jsonrpc": "2.0", "id": .int(id), "method": .string(method), "params": params]])
        return out.first { $0["id"] == .int(id) } ?? .null
    }

    /// Sends a notification and returns what the server sent (diagnostics).
    @discardableResult
    func notify(_ method: String, _ params: JSONValue = [:]) -> [JSONValue] {
        feed([["jsonrpc": "2.0", "method": .string(method), "params": params]])
    }

    @discardableResult
    func initialize(encodings: [String] = [], markdown: Bool = true) -> JSONValue {
        let capabilities: JSONValue = [
            "general": ["positionEncodings": .array(encodings.map { .string($0) })],
            "textDocument": ["hover": ["contentFormat": markdown ? ["markdown", "plaintext"] : ["plaintext"]],
                             "documentSymbol": ["hierarchicalDocumentSymbolSupport": true]],
        ]
        let response = request("initialize", ["processId": .null, "rootUri": .null, "capabilities": capabilities])
        notify("initialized")
        return response
    }

    /// Opens a document and returns the diagnostics published for it.
    @discardableResult
    func open(_ text: String, uri: String = "file:///doc.scope") -> [JSONValue] {
        let out = notify("textDocument/didOpen", ["textDocument": ["uri": .string(uri), "languageId": "periscope",
                                                                   "version": 1, "text": .string(text)]])
        return diagnostics(in: out)
    }

    func diagnostics(in messages: [JSONValue]) -> [JSONValue] {
        messages.last { $0["method"] == "textDocument/publishDiagnostics" }?["params"]?["diagnostics"]?.arrayValue ?? []
    }

    func at(_ line: Int, _ character: Int, uri: String = "file:///doc.scope") -> JSONValue {
        ["textDocument": ["uri": .string(uri)], "position": ["line": .int(line), "character": .int(character)]]
    }
}

/// `{"start": {line, character}, "end": …}` for comparisons.
func lspRange(_ l0: Int, _ c0: Int, _ l1: Int, _ c1: Int) -> JSONValue {
    ["start": ["line": .int(l0), "character": .int(c0)], "end": ["line": .int(l1), "character": .int(c1)]]
}
