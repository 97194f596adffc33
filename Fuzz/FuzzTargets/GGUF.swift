import Foundation
import GGUF

// A GGUF file from outside. Opening parses the header, the metadata and the tensor table; then
// every tensor the table describes is dequantised.

/// The reader maps files, so each input is written to one scratch file in shared memory.
private let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(dir)/periscope-fuzz-gguf-\(getpid()).gguf"
}()

func fuzzGGUF(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
    guard FileManager.default.createFile(atPath: scratch, contents: Data(buffer: input)) else { return .refused }
    defer { unlink(scratch) }
    guard let file = try? GGUFFile(path: scratch) else { return .refused }
    for key in file.metadataKeys { _ = file.metadata[key].map(String.init(describing:)) }
    for tensor in file.tensors {
        // A descriptor only passes the reader when its bytes lie inside the file, so the
        // values it decodes are bounded by the input's size.
        _ = try? file.dequantize(tensor)
    }
    return .accepted
}
