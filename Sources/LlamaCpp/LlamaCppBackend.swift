import Foundation
import Transformer

// MARK: - llama.cpp backend

/// A model's forward pass run by libllama in a worker process, on this machine's CPU (`on local`)
/// or with its layers split across `ggml-rpc-server`s. Hook points map to the graph's named
/// tensors; the worker shows each to the kernel as it is computed and takes back what hooks wrote.
public final class LlamaCppBackend: ForwardBackend {
    /// Where a range of layers lives.
    public struct Placement: Sendable, Equatable {
        public var server: String
        public var layers: ClosedRange<Int>?
    }

    public let endpoints: [String]
    public let maxSequences = LlamaWorker.maxSequences
    /// The context's length: one pass holds every position of its sequences.
    public let maxPositions: Int
    public let architecture: String
    public private(set) var layout: [Placement] = []
    private let process: Process
    private let channel: WorkerChannel
    private let logPath: String
    private var lost = false
    private let lock = NSLock()
    private var counts = Traffic()

    /// What the passes so far asked of the worker: each tensor shown is one synchronous read from
    /// the server that computed it (a round trip on a network), each write one upload.
    public struct Traffic: Sendable, Equatable {
        public var passes = 0
        public var tensorsRead = 0
        public var tensorsWritten = 0
    }

    public var traffic: Traffic { lock.lock(); defer { lock.unlock() }; return counts }

    public var placement: String { Self.placement(endpoints: endpoints) }

    /// Where a model on `endpoints` runs, in words (part of its path in the session).
    public static func placement(endpoints: [String]) -> String {
        endpoints.isEmpty ? "libllama in-process" : "\(endpoints.count) RPC server\(endpoints.count == 1 ? "" : "s"): " + endpoints.joined(separator: ", ")
    }

    /// True while the worker runs and no pass has found it gone (it holds its servers).
    public var isAlive: Bool { lock.lock(); defer { lock.unlock() }; return !lost && process.isRunning }

    /// Starts a worker and loads the GGUF file at `path` there, across `endpoints` (none: this
    /// machine's CPU). Each endpoint must answer llama.cpp's handshake with this build's protocol
    /// version before llama.cpp connects to it.
    public init(path: String, architecture: String, endpoints: [String], contextLength: Int = 4096) throws {
        self.endpoints = endpoints
        self.architecture = architecture
        maxPositions = contextLength
        for endpoint in endpoints { try Endpoint.handshake(endpoint) }
        signal(SIGPIPE, SIG_IGN)   // a dead worker's pipe must give an error, not end the kernel
        let executable = ProcessInfo.processInfo.environment["PERISCOPE_LLAMA_WORKER"]
            ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        logPath = NSTemporaryDirectory() + "periscope-llama-\(getpid())-\(UUID().uuidString.prefix(8)).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let toWorker = Pipe(), fromWorker = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["llama-worker"]
        process.standardInput = toWorker
        process.standardOutput = fromWorker
        process.standardError = FileHandle(forWritingAtPath: logPath)
        do { try process.run() } catch {
            throw LlamaCppError.workerNotStarted(path: executable, reason: "\(error)")
        }
        channel = WorkerChannel(input: fromWorker.fileHandleForReading.fileDescriptor,
                                output: toWorker.fileHandleForWriting.fileDescriptor)
        var load = Payload()
        load.put(path)
        load.put(Int32(endpoints.count))
        for e in endpoints { load.put(e) }
        // PERISCOPE_LLAMA_THREADS caps llama.cpp's CPU threads (its workers spin while they wait,
        // which costs much on a machine already busy).
        let threads = ProcessInfo.processInfo.environment["PERISCOPE_LLAMA_THREADS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount
        load.put(Int32(max(1, threads)))
        load.put(Int32(contextLength))
        guard channel.send(.load, load), let (tag, reply) = try channel.receive() else { throw stopped() }
        var r = reply
        switch tag {
        case .ready:
            _ = try r.int(); _ = try r.int(); _ = try r.int()
            let devices = Int(try r.int())
            for _ in 0..<devices {
                let server = try r.string()
                let first = Int(try r.int()), last = Int(try r.int())
                layout.append(Placement(server: server, layers: first >= 0 ? first...last : nil))
            }
        case .failed:
            let detail = try r.string()
            shutDown()
            throw LlamaCppError.loadFailed(path: path, placement: placement, detail: detail)
        default:
            shutDown()
            throw LlamaCppError.protocolBroken("\(tag) in answer to load")
        }
    }

    deinit { shutDown() }

    private func shutDown() {
        if process.isRunning {
            channel.send(.quit)
            process.terminate()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// The worker's last words (llama.cpp's abort message), then the error that says it stopped.
    private func stopped() -> LlamaCppError {
        lost = true
        process.waitUntilExit()
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let lines = log.split(separator: "\n").map(String.init)
        let telling = lines.last { $0.contains("error") || $0.contains("Failed") || $0.contains("crashed") || $0.contains("mismatch") }
            ?? lines.last ?? "no message"
        return .workerStopped(placement: placement, detail: telling.trimmingCharacters(in: .whitespaces)
                                + " (exit status \(process.terminationStatus))")
    }

    // MARK: Names

    public func tensorName(for point: HookPoint) -> String? {
        let gemma = architecture.hasPrefix("gemma")
        // The stream entering block 0: the looked-up embeddings (`inp_embd` is the unused input
        // of embeddings given as vectors), on Gemma after the √d_model scale.
        let embedded = gemma ? "inp_scaled" : "embd"
        switch point {
        case .residPost(let l): return "l_out-\(l)"
        case .residPre(let l): return l == 0 ? embedded : "l_out-\(l - 1)"
        case .embed: return embedded
        case .lnFinalNormalized: return "result_norm"
        case .residMid(let l): return gemma ? "sa_out-\(l)" : "ffn_inp-\(l)"
        case .attnOut(let l): return gemma ? "attn_post_norm-\(l)" : "attn_out-\(l)"
        case .mlpOut(let l): return gemma ? "ffn_post_norm-\(l)" : "ffn_out-\(l)"
        default: return nil
        }
    }

    public func unreachableReason(for point: HookPoint) -> UnreachableReason {
        switch point {
        case .pattern, .attnScores, .z: return .attentionWeights
        case .q, .k, .v: return .perHeadProjections
        default: return .notMapped(mapped: ["hook_embed", "resid_pre", "resid_mid", "attn_out", "mlp_out", "resid_post", "ln_final"])
        }
    }

    // MARK: Evaluate

    public func evaluate(sequences: [[Int]], from firsts: [Int], observe: Set<String>, logitsFrom: [Int?],
                         tensor: (String, UnsafeMutableBufferPointer<Float>) throws -> Bool) throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        guard !lost else { throw LlamaCppError.modelLost(placement: placement) }
        var request = Payload()
        request.put(Int32(sequences.count))
        for (tokens, first) in zip(sequences, firsts) {
            request.put(tokens.map { Int32($0) })
            request.put(Int32(first))
        }
        request.put(Int32(observe.count))
        for name in observe.sorted() { request.put(name) }
        for from in logitsFrom { request.put(Int32(from ?? -1)) }
        guard channel.send(.evaluate, request) else { throw stopped() }
        counts.passes += 1
        var hookError: Error?
        while true {
            guard let (tag, message) = try channel.receive() else { throw stopped() }
            var m = message
            switch tag {
            case .tensor:
                let name = try m.string()
                let rows = Int(try m.int()), width = Int(try m.int())
                var data = try m.floats()
                counts.tensorsRead += 1
                guard hookError == nil, rows * width == data.count else { channel.send(.abort); continue }
                do {
                    let changed = try data.withUnsafeMutableBufferPointer { try tensor(name, $0) }
                    if changed {
                        counts.tensorsWritten += 1
                        var answer = Payload()
                        data.withUnsafeBufferPointer { answer.put(floats: $0) }
                        guard channel.send(.write, answer) else { throw stopped() }
                    } else {
                        guard channel.send(.keep) else { throw stopped() }
                    }
                } catch let error as LlamaCppError {
                    throw error
                } catch {
                    hookError = error
                    channel.send(.abort)
                }
            case .done:
                if let hookError { throw hookError }
                return try m.floats()
            case .failed:
                if let hookError { throw hookError }
                throw LlamaCppError.passFailed(placement: placement, detail: try m.string())
            default:
                throw LlamaCppError.protocolBroken("\(tag) during a pass")
            }
        }
    }
}
