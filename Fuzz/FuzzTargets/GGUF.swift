import Foundation
import GGUF

// libFuzzer target: a GGUF file from outside. Opening parses the header, the metadata and the
// tensor table; then every tensor the table describes is dequantised.

/// The reader maps files, so each input is written to one scratch file in shared memory.
nonisolated(unsafe) private let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(dir)/periscope-fuzz-gguf-\(getpid()).gguf"
}()

func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    let data = Data(bytes: start, count: count)
    guard FileManager.default.createFile(atPath: scratch, contents: data) else { return 0 }
    defer { unlink(scratch) }
    guard let file = try? GGUFFile(path: scratch) else { return 0 }
    for key in file.metadataKeys { _ = file.metadata[key].map(String.init(describing:)) }
    for tensor in file.tensors {
        // A descriptor only passes the reader when its bytes lie inside the file, so the
        // values it decodes are bounded by the input's size.
        _ = try? file.dequantize(tensor)
    }
    return 0
}
