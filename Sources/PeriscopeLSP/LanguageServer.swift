import Foundation
import JupyterProtocol
import PeriscopeKernel
import PeriscopeLanguage

/// The Periscope language server: the Language Server Protocol's lifecycle, documents and
/// requests, over any byte transport. It reads nothing and writes nothing itself: `receive`
/// takes decoded frames and every message out goes through `send`, so tests drive it directly
/// and `StdioTransport` connects it to a process's stdin and stdout.
public final class LanguageServer {
    private enum State { case uninitialized, running, shutDown }

    private let table: CommandTable
    private let send: (JSONValue) -> Void
    private var state = State.uninitialized
    private(set) var encoding = PositionEncoding.utf16
    /// What the client can show: markdown hovers, hierarchical symbols.
    private(set) var clientMarkdown = false
    private(set) var clientHierarchicalSymbols = false
    private var documents: [String: TextDocument] = [:]
    /// Each open document's check, made once per text.
    private var checks: [String: DocumentCheck] = [:]

    /// Set by `exit`: 0 after `shutdown`, 1 without (as the protocol asks).
    public private(set) var exitCode: Int32?
    /// True once `shutdown` has been answered.
    public var isShutDown: Bool { state == .shutDown }

    public init(table: CommandTable = .standard, send: @escaping (JSONValue) -> Void) {
        self.table = table
        self.send = send
    }

    // MARK: - Receiving

    /// Handles what arrived together. A `$/cancelRequest` among them cancels the requests it
    /// names that are still unanswered, and each changed document gets one `publishDiagnostics`
    /// for its final text, after the batch.
    public func receive(_ items: [FrameDecoder.Item]) {
        var messages: [JSONValue] = []
        for item in items {
            switch item {
            case .malformed(let error):
                respond(id: .null, error: .parseError(error.description))
            case .message(let bytes):
                do {
                    messages.append(try JSONValue.parse(Data(bytes)))
                } catch {
                    respond(id: .null, error: .parseError(error.description))
                }
            }
        }
        var cancelled = Set<JSONValue>()
        for message in messages where message["method"]?.stringValue == "$/cancelRequest" {
            if let id = message["params"]?["id"], id.isRequestID { cancelled.insert(id) }
        }
        var changed: [String] = []
        for message in messages where exitCode == nil {
            handle(message, cancelled: cancelled, changed: &changed)
        }
        for uri in changed where documents[uri] != nil { publishDiagnostics(uri) }
    }

    private func handle(_ message: JSONValue, cancelled: Set<JSONValue>, changed: inout [String]) {
        guard case .object(let members) = message else {
            let what = message.arrayValue != nil ? "a batch (array) of messages; send one message per frame" : "a message must be a JSON object"
            respond(id: .null, error: .invalidRequest(what))
            return
        }
        let id = members["id"]
        if let id, !id.isRequestID {
            respond(id: .null, error: .invalidRequest("`id` must be an integer or a string"))
            return
        }
        guard let methodValue = members["method"] else {
            // A response to something the server sent: it sends no requests, so there is nothing to match.
            if id != nil, members["result"] != nil || members["error"] != nil { return }
            respond(id: id ?? .null, error: .invalidRequest("a request or notification needs a `method`"))
            return
        }
        guard let method = methodValue.stringValue else {
            respond(id: id ?? .null, error: .invalidRequest("`method` must be a string"))
            return
        }
        let params = members["params"] ?? .null
        if let id {
            if cancelled.contains(id) {
                respond(id: id, error: .requestCancelled)
                return
            }
            do {
                respond(id: id, result: try request(method, params))
            } catch let error as ProtocolError {
                respond(id: id, error: error)
            } catch {
                respond(id: id, error: .invalidParams(method: method, detail: "\(error)"))
            }
        } else {
            // Notifications get no answer, not even an error.
            try? notification(method, params, changed: &changed)
        }
    }

    // MARK: - Requests

    private func request(_ method: String, _ params: JSONValue) throws -> JSONValue {
        switch state {
        case .uninitialized where method != "initialize":
            throw ProtocolError.serverNotInitialized(method: method)
        case .running where method == "initialize":
            throw ProtocolError.alreadyInitialized
        case .shutDown:
            throw ProtocolError.shuttingDown(method: method)
        default:
            break
        }
        switch method {
        case "initialize":
            return initialize(params)
        case "shutdown":
            state = .shutDown
            return .null
        case "textDocument/hover":
            let (document, offset) = try documentPosition(method, params)
            return hover(document, check: check(document), offset: offset)
        case "textDocument/completion":
            let (document, offset) = try documentPosition(method, params)
            return completion(document, check: check(document), offset: offset)
        case "textDocument/signatureHelp":
            let (document, offset) = try documentPosition(method, params)
            return signatureHelp(document, offset: offset)
        case "textDocument/definition":
            let (document, offset) = try documentPosition(method, params)
            return definition(document, check: check(document), offset: offset)
        case "textDocument/documentSymbol":
            let document = try openDocument(method, params)
            return documentSymbols(document, check: check(document))
        default:
            throw ProtocolError.methodNotFound(method)
        }
    }

    private func initialize(_ params: JSONValue) -> JSONValue {
        state = .running
        let capabilities = params["capabilities"]
        let encodings = capabilities?["general"]?["positionEncodings"]?.arrayValue?.compactMap(\.stringValue) ?? []
        // Scalars are the parser's own unit: take them when the client can.
        encoding = encodings.contains(PositionEncoding.utf32.rawValue) ? .utf32 : .utf16
        let formats = capabilities?["textDocument"]?["hover"]?["contentFormat"]?.arrayValue?.compactMap(\.stringValue) ?? []
        clientMarkdown = formats.contains("markdown")
        clientHierarchicalSymbols = capabilities?["textDocument"]?["documentSymbol"]?["hierarchicalDocumentSymbolSupport"]?.boolValue ?? false
        return [
            "capabilities": [
                "positionEncoding": .string(encoding.rawValue),
                "textDocumentSync": ["openClose": true, "change": 2],
                "hoverProvider": true,
                "completionProvider": ["resolveProvider": false],
                "signatureHelpProvider": ["triggerCharacters": [" "], "retriggerCharacters": [" "]],
                "definitionProvider": true,
                "documentSymbolProvider": true,
            ],
            "serverInfo": ["name": "periscope", "version": .string(PeriscopeVersion.current)],
        ]
    }

    // MARK: - Notifications

    private func notification(_ method: String, _ params: JSONValue, changed: inout [String]) throws {
        if method == "exit" {
            exitCode = state == .shutDown ? 0 : 1
            return
        }
        guard state == .running else { return }
        switch method {
        case "textDocument/didOpen":
            let item = try field(params, "textDocument", method)
            let uri = try string(item, "uri", method)
            let text = try string(item, "text", method)
            documents[uri] = TextDocument(uri: uri, version: item["version"]?.intValue ?? 0, text: text)
            checks[uri] = nil
            changed.append(uri)
        case "textDocument/didChange":
            let identifier = try field(params, "textDocument", method)
            let uri = try string(identifier, "uri", method)
            guard var document = documents[uri] else { return }
            for change in params["contentChanges"]?.arrayValue ?? [] {
                guard let text = change["text"]?.stringValue else { continue }
                if let range = change["range"], let start = position(range["start"]), let end = position(range["end"]) {
                    let lower = document.offset(of: start, encoding: encoding)
                    let upper = document.offset(of: end, encoding: encoding)
                    document.replace(min(lower, upper)..<max(lower, upper), with: text)
                } else {
                    document.setText(text)
                }
            }
            document.version = identifier["version"]?.intValue ?? document.version
            documents[uri] = document
            checks[uri] = nil
            if !changed.contains(uri) { changed.append(uri) }
        case "textDocument/didClose":
            let uri = try string(try field(params, "textDocument", method), "uri", method)
            documents[uri] = nil
            checks[uri] = nil
            // Clear what the editor shows for a document no longer open.
            send(["jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                  "params": ["uri": .string(uri), "diagnostics": []]])
        default:
            break  // initialized, didSave, $/setTrace, configuration: nothing to do
        }
    }

    // MARK: - Diagnostics

    private func publishDiagnostics(_ uri: String) {
        guard let document = documents[uri] else { return }
        let diagnostics = check(document).problems.map { problem -> JSONValue in
            [
                "range": range(problem.range, in: document),
                "severity": .int(problem.severity == .error ? 1 : 2),
                "code": .string(problem.code),
                "source": "periscope",
                "message": .string(problem.message),
            ]
        }
        send(["jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
              "params": ["uri": .string(uri), "version": .int(document.version), "diagnostics": .array(diagnostics)]])
    }

    func check(_ document: TextDocument) -> DocumentCheck {
        if let cached = checks[document.uri] { return cached }
        let made = DocumentCheck(source: document.text, table: table)
        checks[document.uri] = made
        return made
    }

    // MARK: - Sending

    private func respond(id: JSONValue, result: JSONValue) {
        send(["jsonrpc": "2.0", "id": id, "result": result])
    }

    private func respond(id: JSONValue, error: ProtocolError) {
        send(["jsonrpc": "2.0", "id": id, "error": error.json])
    }

    // MARK: - Reading params

    private func field(_ value: JSONValue, _ key: String, _ method: String) throws -> JSONValue {
        guard let member = value[key], member.objectValue != nil else {
            throw ProtocolError.invalidParams(method: method, detail: "`\(key)` must be an object")
        }
        return member
    }

    private func string(_ value: JSONValue, _ key: String, _ method: String) throws -> String {
        guard let member = value[key]?.stringValue else {
            throw ProtocolError.invalidParams(method: method, detail: "`\(key)` must be a string")
        }
        return member
    }

    private func position(_ value: JSONValue?) -> Position? {
        guard let line = value?["line"]?.intValue, let character = value?["character"]?.intValue else { return nil }
        return Position(line: line, character: character)
    }

    private func openDocument(_ method: String, _ params: JSONValue) throws -> TextDocument {
        let uri = try string(try field(params, "textDocument", method), "uri", method)
        guard let document = documents[uri] else {
            throw ProtocolError.invalidParams(method: method, detail: "no open document \(uri.debugDescription); send didOpen first")
        }
        return document
    }

    /// The document and the scalar offset a position request is about.
    private func documentPosition(_ method: String, _ params: JSONValue) throws -> (TextDocument, Int) {
        let document = try openDocument(method, params)
        guard let position = position(params["position"]) else {
            throw ProtocolError.invalidParams(method: method, detail: "`position` must be {line, character} with integers")
        }
        return (document, document.offset(of: position, encoding: encoding))
    }

    // MARK: - Positions out

    func range(_ range: SourceRange, in document: TextDocument) -> JSONValue {
        span(range.start.offset..<max(range.start.offset, range.end.offset), in: document)
    }

    func span(_ offsets: Range<Int>, in document: TextDocument) -> JSONValue {
        ["start": point(document.position(of: offsets.lowerBound, encoding: encoding)),
         "end": point(document.position(of: offsets.upperBound, encoding: encoding))]
    }

    private func point(_ position: Position) -> JSONValue {
        ["line": .int(position.line), "character": .int(position.character)]
    }
}

extension JSONValue {
    /// JSON-RPC ids are integers or strings.
    var isRequestID: Bool {
        switch self {
        case .int, .string: return true
        default: return false
        }
    }
}
