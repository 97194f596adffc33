import Foundation

/// Everything that can go wrong running a model in llama.cpp, in-process or across RPC servers.
public enum LlamaCppError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An address that is not `host:port` with a port in 1…65535.
    case badEndpoint(String)
    /// No server answered at this address.
    case unreachable(endpoint: String, reason: String)
    /// The server accepted the connection but did not answer HELLO within `seconds`: it is serving
    /// another client (a ggml-rpc-server serves one at a time).
    case busy(endpoint: String, seconds: Int)
    /// The server speaks another RPC protocol version than this build.
    case protocolMismatch(endpoint: String, server: String, client: String)
    /// A model already loaded in this session holds the server (one client at a time).
    case serverInUse(endpoint: String, model: String)
    /// The worker process could not be started.
    case workerNotStarted(path: String, reason: String)
    /// The worker process stopped (llama.cpp aborts it when a server dies or answers with another
    /// protocol version); `detail` is its last words.
    case workerStopped(placement: String, detail: String)
    /// llama.cpp refused to load the model or make a context.
    case loadFailed(path: String, placement: String, detail: String)
    /// llama.cpp refused a pass (too many positions for its context, say).
    case passFailed(placement: String, detail: String)
    /// The model's worker stopped earlier; the model must be loaded again.
    case modelLost(placement: String)
    /// The two sides of the pipe disagree (a bug, not bad input).
    case protocolBroken(String)

    public var description: String {
        switch self {
        case .badEndpoint(let text):
            return "`\(text)` is not a server address; write \"host:port\", e.g. \"127.0.0.1:50052\"."
        case .unreachable(let endpoint, let reason):
            return "No ggml-rpc-server answers at \(endpoint) (\(reason)); start one there with `ggml-rpc-server -H HOST -p PORT` (built in .build-llama/bin) or check the address."
        case .busy(let endpoint, let seconds):
            return "The ggml-rpc-server at \(endpoint) accepted the connection but did not answer within \(seconds) s: it is serving another client (a server serves one client at a time). Start another server for this model, or stop the client that holds it."
        case .protocolMismatch(let endpoint, let server, let client):
            return "The ggml-rpc-server at \(endpoint) speaks RPC protocol \(server); this build speaks \(client). Run a server built from the same llama.cpp (`make llama` builds one into .build-llama/bin)."
        case .serverInUse(let endpoint, let model):
            return "\(endpoint) already runs `\(model)` in this session, and a ggml-rpc-server serves one client at a time. Start another ggml-rpc-server (on another port) for this model."
        case .workerNotStarted(let path, let reason):
            return "The llama.cpp worker process (\(path)) could not start: \(reason)."
        case .workerStopped(let placement, let detail):
            return "llama.cpp stopped while running this model (\(placement)): \(detail). A server may have died or speak another RPC protocol version (this build speaks 7.0.0). The model is unusable until loaded again; every other model and variable is kept."
        case .loadFailed(let path, let placement, let detail):
            return "llama.cpp could not load \(path) (\(placement)): \(detail)."
        case .passFailed(let placement, let detail):
            return "llama.cpp could not run this pass (\(placement)): \(detail)."
        case .modelLost(let placement):
            return "This model's llama.cpp process (\(placement)) stopped earlier; run `load` again once the servers are up. Every other model and variable is kept."
        case .protocolBroken(let what):
            return "The llama.cpp worker sent a malformed message (\(what))."
        }
    }
}
