import CLlama
import Foundation

// MARK: - Worker process
//
// `periscope llama-worker` runs this loop: it loads one model with libllama (on this machine's
// CPU or across RPC servers) and evaluates sequences for the kernel, showing it each observed
// tensor as the graph computes it (the eval callback's observe phase) and writing back what the
// kernel's hooks changed.

/// The worker's state; one per process (the eval callback is a C function and reaches it here).
public final class LlamaWorker {
    nonisolated(unsafe) static var shared: LlamaWorker?

    let channel: WorkerChannel
    var model: OpaquePointer?
    var context: OpaquePointer?
    var observed: Set<String> = []
    var aborted = false
    var broken = false

    init(channel: WorkerChannel) { self.channel = channel }

    /// Serves the kernel until it quits or closes the pipe. The protocol takes over standard output;
    /// anything libllama prints goes to standard error.
    public static func serve() -> Int32 {
        let protocolOut = dup(1)
        dup2(2, 1)
        signal(SIGPIPE, SIG_IGN)
        let worker = LlamaWorker(channel: WorkerChannel(input: 0, output: protocolOut))
        shared = worker
        llama_backend_init()
        while let (tag, payload) = try? worker.channel.receive() {
            var p = payload
            switch tag {
            case .load: worker.load(&p)
            case .evaluate: worker.evaluate(&p)
            case .quit: return 0
            default: worker.fail("unexpected message \(tag)")
            }
        }
        return 0
    }

    func fail(_ message: String) {
        var p = Payload()
        p.put(message)
        channel.send(.failed, p)
    }

    // MARK: Load

    private func load(_ p: inout Payload) {
        guard let path = try? p.string(), let endpointCount = try? p.int(), endpointCount >= 0 else { return fail("bad load message") }
        var endpoints: [String] = []
        for _ in 0..<endpointCount { guard let e = try? p.string() else { return fail("bad load message") }; endpoints.append(e) }
        let threads = (try? p.int()) ?? 1
        let contextLength = (try? p.int()) ?? 2048

        var devices: [ggml_backend_dev_t?] = []
        var deviceNames: [String] = []
        for endpoint in endpoints {
            // Aborts the process when the server is unreachable or speaks another protocol version.
            guard let reg = ggml_backend_rpc_add_server(endpoint) else { return fail("no RPC backend for \(endpoint)") }
            for i in 0..<ggml_backend_reg_dev_count(reg) {
                devices.append(ggml_backend_reg_dev_get(reg, i))
                deviceNames.append(endpoint)
            }
        }
        let deviceCount = devices.count
        devices.append(nil)
        var split = [Float](repeating: 0, count: Int(llama_max_devices()))
        for i in 0..<min(deviceCount, split.count) { split[i] = 1 }

        var mp = llama_model_default_params()
        mp.n_gpu_layers = deviceCount > 0 ? 999 : 0
        mp.split_mode = LLAMA_SPLIT_MODE_LAYER
        mp.use_extra_bufts = false        // no repacked weights: the same numbers as the plain kernels
        let loaded: OpaquePointer? = devices.withUnsafeMutableBufferPointer { devs in
            split.withUnsafeBufferPointer { s in
                mp.devices = devs.baseAddress
                mp.tensor_split = s.baseAddress
                return llama_model_load_from_file(path, mp)
            }
        }
        guard let loaded else { return fail("llama_model_load_from_file failed (see the worker log)") }
        model = loaded
        var cp = llama_context_default_params()
        cp.n_ctx = UInt32(contextLength)
        cp.n_batch = UInt32(contextLength)
        cp.n_ubatch = UInt32(contextLength)   // one micro-batch: every observed tensor holds every row
        cp.n_seq_max = UInt32(Self.maxSequences)
        cp.kv_unified = true   // one buffer: a batch's rows stay in the order they were given
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED   // pinned: it changes the numbers
        cp.type_k = GGML_TYPE_F32
        cp.type_v = GGML_TYPE_F32
        cp.no_perf = true
        cp.cb_eval = { tensor, ask, _ in LlamaWorker.shared?.observe(tensor, ask: ask) ?? true }
        guard let ctx = llama_init_from_model(loaded, cp) else { return fail("llama_init_from_model failed") }
        context = ctx

        let layers = Int(llama_model_n_layer(loaded))
        var reply = Payload()
        reply.put(Int32(layers))
        reply.put(Int32(llama_model_n_embd(loaded)))
        reply.put(Int32(llama_vocab_n_tokens(llama_model_get_vocab(loaded))))
        // Where each layer lives, as llama.cpp's layer split assigns them (every layer offloaded).
        reply.put(Int32(deviceCount))
        let ranges = Self.layerRanges(layers: layers, devices: deviceCount)
        for (i, range) in ranges.enumerated() {
            reply.put(deviceNames[i])
            reply.put(Int32(range.lowerBound))
            reply.put(Int32(range.upperBound))
        }
        channel.send(.ready, reply)
    }

    /// The layers each of `devices` equal shares holds under llama.cpp's layer split with every
    /// layer and the output offloaded (`layers + 1` slots cut at the cumulative shares).
    static func layerRanges(layers: Int, devices: Int) -> [(lowerBound: Int, upperBound: Int)] {
        guard devices > 0 else { return [] }
        var first = [Int](repeating: Int.max, count: devices), last = [Int](repeating: -1, count: devices)
        for l in 0..<layers {
            let share = Float(l) / Float(layers + 1)
            var device = 0
            while device < devices - 1 && Float(device + 1) / Float(devices) <= share { device += 1 }
            first[device] = min(first[device], l)
            last[device] = max(last[device], l)
        }
        return (0..<devices).map { first[$0] <= last[$0] ? (first[$0], last[$0]) : (-1, -1) }
    }

    // MARK: Evaluate

    /// The most sequences one evaluation takes.
    static let maxSequences = 64

    /// Sequences the memory holds from the last pass (seq ids 0..<heldSequences).
    private var heldSequences = 0

    private func evaluate(_ p: inout Payload) {
        guard let ctx = context, let model, let sequenceCount = try? p.int(), sequenceCount > 0 else { return fail("bad evaluate message") }
        var sequences: [[Int32]] = [], firsts: [Int] = []
        for _ in 0..<sequenceCount {
            guard let s = try? p.ints(), !s.isEmpty, let first = try? p.int(), first >= 0 else { return fail("bad evaluate message") }
            sequences.append(s)
            firsts.append(Int(first))
        }
        guard let nameCount = try? p.int() else { return fail("bad evaluate message") }
        var names = Set<String>()
        for _ in 0..<nameCount { if let n = try? p.string() { names.insert(n) } }
        let logitsFrom = (0..<sequences.count).map { _ in Int((try? p.int()) ?? -1) }
        let total = sequences.reduce(0) { $0 + $1.count }
        guard sequences.count <= Self.maxSequences else { return fail("\(sequences.count) sequences in one pass; at most \(Self.maxSequences)") }
        guard total <= Int(llama_n_ctx(ctx)) else { return fail("\(total) positions in one pass; the context holds \(llama_n_ctx(ctx))") }
        observed = names
        aborted = false
        // Positions below a sequence's first new one stay as the last pass left them; the rest of
        // the memory goes.
        let memory = llama_get_memory(ctx)
        if firsts.allSatisfy({ $0 == 0 }) {
            llama_memory_clear(memory, true)
        } else {
            let dropped = firsts.enumerated().allSatisfy { b, first in llama_memory_seq_rm(memory, Int32(b), llama_pos(first), -1) }
            for b in sequences.count..<max(sequences.count, heldSequences) { _ = llama_memory_seq_rm(memory, Int32(b), 0, -1) }
            guard dropped, firsts.indices.allSatisfy({ b in llama_memory_seq_pos_max(memory, Int32(b)) == llama_pos(firsts[b] - 1) }) else {
                llama_memory_clear(memory, true)
                heldSequences = 0
                return fail("the memory does not hold the positions before the new tokens")
            }
        }
        heldSequences = 0
        // Only the rows whose logits are asked for are outputs, unless a tensor of the last layer or
        // the final norm is observed: llama.cpp keeps only output rows from the last layer's
        // attention on, and those tensors must show every row.
        let layers = Int(llama_model_n_layer(model))
        let lastLayer = names.contains { name in
            name == "result_norm" || name.split(separator: "-").last.flatMap { Int($0) } == layers - 1
        }
        var batch = llama_batch_init(Int32(total), 0, 1)
        defer { llama_batch_free(batch) }
        var i = 0, outputs = 0
        for (b, tokens) in sequences.enumerated() {
            for (t, token) in tokens.enumerated() {
                batch.token[i] = token
                batch.pos[i] = Int32(firsts[b] + t)
                batch.n_seq_id[i] = 1
                batch.seq_id[i]![0] = Int32(b)
                let wanted = logitsFrom[b] >= 0 && t >= logitsFrom[b]
                batch.logits[i] = lastLayer || wanted ? 1 : 0
                if lastLayer || wanted { outputs += 1 }
                i += 1
            }
        }
        batch.n_tokens = Int32(total)
        let status = llama_decode(ctx, batch)
        observed = []
        if broken { return }
        if aborted { return fail("aborted") }
        guard status == 0 else { return fail("llama_decode returned \(status)") }
        heldSequences = sequences.count
        var reply = Payload()
        var out: [Float] = []
        if outputs > 0, let all = llama_get_logits(ctx) {
            let vocab = Int(llama_vocab_n_tokens(llama_model_get_vocab(model)))
            // Output rows sit one after the other in batch order.
            var row = 0
            for (b, tokens) in sequences.enumerated() {
                let from = logitsFrom[b] < 0 ? tokens.count : min(logitsFrom[b], tokens.count)
                if lastLayer { row += from }
                out += UnsafeBufferPointer(start: all + row * vocab, count: (tokens.count - from) * vocab)
                row += tokens.count - from
            }
        }
        out.withUnsafeBufferPointer { reply.put(floats: $0) }
        channel.send(.done, reply)
    }

    /// The eval callback: asks for the observed tensors, then shows each to the kernel and writes
    /// back its answer before the graph goes on.
    func observe(_ tensor: UnsafeMutablePointer<ggml_tensor>?, ask: Bool) -> Bool {
        guard let tensor, !aborted, !broken, let cName = ggml_get_name(tensor) else { return ask ? false : true }
        let name = String(cString: cName)
        guard observed.contains(name) else { return ask ? false : true }
        if ask { return true }
        guard tensor.pointee.type == GGML_TYPE_F32, ggml_is_contiguous(tensor) else { return true }
        let width = Int(tensor.pointee.ne.0)
        let rows = Int(ggml_nelements(tensor)) / max(width, 1)
        var data = [Float](repeating: 0, count: rows * width)
        data.withUnsafeMutableBytes { ggml_backend_tensor_get(tensor, $0.baseAddress, 0, $0.count) }
        var message = Payload()
        message.put(name)
        message.put(Int32(rows))
        message.put(Int32(width))
        data.withUnsafeBufferPointer { message.put(floats: $0) }
        guard channel.send(.tensor, message), let (tag, answer) = try? channel.receive() else {
            broken = true
            exit(1)   // the kernel has gone
        }
        switch tag {
        case .keep: break
        case .write:
            var a = answer
            guard (try? data.withUnsafeMutableBufferPointer { try a.floats(into: $0) }) != nil else { aborted = true; return true }
            data.withUnsafeBytes { ggml_backend_tensor_set(tensor, $0.baseAddress, 0, $0.count) }
        default:
            aborted = true
        }
        return true
    }
}
