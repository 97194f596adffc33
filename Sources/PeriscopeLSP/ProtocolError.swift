import JupyterProtocol

/// A JSON-RPC error the server answers with; `code` is the number the protocol assigns.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes could not be framed, or the body is not JSON.
    case parseError(String)
    /// JSON, but not a request or notification (no method, a bad id, a batch).
    case invalidRequest(String)
    case methodNotFound(String)
    /// A parameter is missing or of the wrong type.
    case invalidParams(method: String, detail: String)
    /// A request other than `initialize` before `initialize`.
    case serverNotInitialized(method: String)
    /// A second `initialize`.
    case alreadyInitialized
    /// A request after `shutdown`.
    case shuttingDown(method: String)
    /// `$/cancelRequest` arrived before the request was answered.
    case requestCancelled

    public var code: Int {
        switch self {
        case .parseError: return -32700
        case .invalidRequest, .alreadyInitialized, .shuttingDown: return -32600
        case .methodNotFound: return -32601
        case .invalidParams: return -32602
        case .serverNotInitialized: return -32002
        case .requestCancelled: return -32800
        }
    }

    public var description: String {
        switch self {
        case .parseError(let detail): return "Parse error: \(detail)"
        case .invalidRequest(let detail): return "Invalid request: \(detail)"
        case .methodNotFound(let method): return "Method not found: the server does not handle `\(method)`"
        case .invalidParams(let method, let detail): return "Invalid params for `\(method)`: \(detail)"
        case .serverNotInitialized(let method): return "Server not initialized: send `initialize` before `\(method)`"
        case .alreadyInitialized: return "Invalid request: `initialize` was already received"
        case .shuttingDown(let method): return "Invalid request: the server is shutting down and does not answer `\(method)`; send `exit`"
        case .requestCancelled: return "Request cancelled"
        }
    }

    /// The `error` member of a response.
    var json: JSONValue { ["code": .int(code), "message": .string(description)] }
}
