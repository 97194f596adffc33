import Foundation

// MARK: - Worker channel
//
// The kernel and its llama.cpp worker process speak length-prefixed messages over a pipe pair:
// a tag, a byte count, then the payload written with `Payload`. The worker is a separate process
// because llama.cpp's RPC client aborts the whole process when a server fails; the kernel sees the
// pipe close instead and keeps its session.

/// Message kinds between the kernel and the worker.
enum WorkerTag: UInt32 {
    case load = 1          // kernel → worker: path, endpoints, threads, context
    case evaluate = 2      // kernel → worker: each sequence's tokens and first position, tensor names, first logits row (or −1)
    case keep = 3          // kernel → worker: the observed tensor is unchanged
    case write = 4         // kernel → worker: the observed tensor's new contents
    case abort = 5         // kernel → worker: stop reporting tensors, finish and fail this pass
    case quit = 9
    case ready = 100       // worker → kernel: model sizes and where each layer range lives
    case tensor = 101      // worker → kernel: a tensor's name, rows, width and floats
    case done = 102        // worker → kernel: the logits asked for
    case failed = 199      // worker → kernel: a message
}

/// A payload under construction or being read.
struct Payload {
    private(set) var bytes: [UInt8] = []
    private var cursor = 0

    init() {}
    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func put(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func put(_ s: String) { let u = Array(s.utf8); put(Int32(u.count)); bytes += u }
    mutating func put(_ a: [Int32]) { put(Int32(a.count)); a.withUnsafeBytes { bytes += $0 } }
    mutating func put(floats a: UnsafeBufferPointer<Float>) { put(Int32(a.count)); bytes += UnsafeRawBufferPointer(a) }

    mutating func int() throws -> Int32 {
        guard cursor + 4 <= bytes.count else { throw LlamaCppError.protocolBroken("short message") }
        let v = bytes[cursor..<cursor + 4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        cursor += 4
        return Int32(littleEndian: v)
    }
    mutating func string() throws -> String {
        let n = Int(try int())
        guard n >= 0, cursor + n <= bytes.count else { throw LlamaCppError.protocolBroken("short string") }
        defer { cursor += n }
        return String(decoding: bytes[cursor..<cursor + n], as: UTF8.self)
    }
    mutating func ints() throws -> [Int32] {
        let n = Int(try int())
        guard n >= 0, cursor + 4 * n <= bytes.count else { throw LlamaCppError.protocolBroken("short list") }
        defer { cursor += 4 * n }
        return bytes[cursor..<cursor + 4 * n].withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    }
    /// Copies `count` floats (checked against the stored count) into `out`.
    mutating func floats(into out: UnsafeMutableBufferPointer<Float>) throws {
        let n = Int(try int())
        guard n == out.count, cursor + 4 * n <= bytes.count else { throw LlamaCppError.protocolBroken("float count") }
        bytes[cursor..<cursor + 4 * n].withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(out).copyMemory(from: raw)
        }
        cursor += 4 * n
    }
    mutating func floats() throws -> [Float] {
        let n = Int(try int())
        guard n >= 0, cursor + 4 * n <= bytes.count else { throw LlamaCppError.protocolBroken("float count") }
        defer { cursor += 4 * n }
        return bytes[cursor..<cursor + 4 * n].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

/// Reads and writes whole messages on a pair of file descriptors.
struct WorkerChannel {
    let input: Int32
    let output: Int32

    /// Sends one message; false when the other side has gone.
    @discardableResult
    func send(_ tag: WorkerTag, _ payload: Payload = Payload()) -> Bool {
        var header = Payload()
        header.put(Int32(bitPattern: tag.rawValue))
        header.put(Int32(payload.bytes.count))
        return writeAll(header.bytes) && writeAll(payload.bytes)
    }

    /// The next message, or nil when the other side has closed the pipe.
    func receive() throws -> (WorkerTag, Payload)? {
        guard let head = readExactly(8) else { return nil }
        var header = Payload(bytes: head)
        let raw = UInt32(bitPattern: try header.int())
        let count = Int(try header.int())
        guard let tag = WorkerTag(rawValue: raw), count >= 0 else { throw LlamaCppError.protocolBroken("tag \(raw)") }
        guard let body = readExactly(count) else { return nil }
        return (tag, Payload(bytes: body))
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        var done = 0
        return bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = write(output, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        let ok = out.withUnsafeMutableBytes { raw -> Bool in
            while done < count {
                let n = read(input, raw.baseAddress! + done, count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        return ok ? out : nil
    }
}
