import Foundation
import GGUF
import PeriscopeKernel

// What the .npy and control-vector writers are given (a shape and float values
// from a run, a layer number, an architecture name). The input's first bytes are the shape and
// the layer, the rest the values' bit patterns (NaN and infinities included). Each file written
// in memory must read back to the same values.

private let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(dir)/periscope-fuzz-writers-\(getpid()).gguf"
}()

func fuzzWriters(_ bytes: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
    guard bytes.count >= 3 else { return .refused }
    let rank = Int(bytes[0] % 4)
    guard bytes.count >= 2 + rank else { return .refused }
    var shape = (0..<rank).map { Int(bytes[1 + $0] % 17) }
    let layer = Int(bytes[1 + rank])
    let payload = bytes[(2 + rank)...]
    var values: [Float] = []
    var i = payload.startIndex
    while i + 4 <= payload.endIndex {
        values.append(Float(bitPattern: UInt32(payload[i]) | UInt32(payload[i + 1]) << 8 | UInt32(payload[i + 2]) << 16 | UInt32(payload[i + 3]) << 24))
        i += 4
    }
    // Half the time the shape fits the values; otherwise the writer must refuse it.
    if bytes[0] & 4 != 0 { shape = rank == 0 ? [] : [values.count] + Array(repeating: 1, count: rank - 1) }
    if let npy = try? NpyWriter.data(shape: shape, values: values) {
        precondition(shape.reduce(1, *) == values.count, "npy accepted a shape that does not fit")
        let body = npy.suffix(values.count * 4)
        precondition(body.elementsEqual(values.withUnsafeBytes { Data($0) }), "npy values differ")
    }

    guard !values.isEmpty else { return .refused }  // a direction always has values
    var writer = GGUFWriter(architecture: "controlvector")
    writer.add("controlvector.model_hint", .string(String(decoding: payload.prefix(16), as: UTF8.self)))
    writer.add("controlvector.layer_count", .uint32(1))
    writer.addTensor(name: "direction.\(layer)", dims: [values.count], values: values)
    guard let encoded = try? writer.encoded() else { return .refused }
    guard FileManager.default.createFile(atPath: scratch, contents: Data(encoded)) else { return .refused }
    defer { unlink(scratch) }
    do {
        let file = try GGUFFile(path: scratch)
        guard let tensor = file.tensor(named: "direction.\(layer)") else { preconditionFailure("tensor lost") }
        let back = try file.dequantize(tensor)
        precondition(back.map(\.bitPattern) == values.map(\.bitPattern), "control vector values differ")
    } catch {
        preconditionFailure("a control vector we wrote does not read back: \(error)")
    }
    return .accepted
}
