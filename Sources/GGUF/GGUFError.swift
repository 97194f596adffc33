// MARK: - Errors

/// Everything that can go wrong reading, decoding or writing a GGUF file.
///
/// Every reading error names the file and the byte offset where the problem was found,
/// so a user can tell a truncated download from a file of another format.
public enum GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but cannot be opened or mapped (permissions, a directory, ...).
    case notReadable(path: String, reason: String)
    /// The first four bytes are not `GGUF`.
    case badMagic(path: String, offset: Int, found: [UInt8])
    /// The version is not 2 or 3.
    case unsupportedVersion(path: String, offset: Int, version: UInt32)
    /// The file ends before a value that should be there.
    case truncated(path: String, offset: Int, needed: Int, fileSize: Int)
    /// A string's declared length runs past the end of the file.
    case stringPastEnd(path: String, offset: Int, length: UInt64, fileSize: Int)
    /// A metadata value has a type code GGUF does not define.
    case unknownValueType(path: String, offset: Int, key: String, code: UInt32)
    /// A metadata key that must have a particular type or range does not.
    case invalidMetadata(path: String, offset: Int, key: String, reason: String)
    /// A tensor's type code is not a ggml type.
    case unknownTensorType(path: String, offset: Int, tensor: String, code: UInt32)
    /// A tensor's type is known but cannot be dequantised.
    case unsupportedTensorType(path: String, offset: Int, tensor: String, type: String)
    /// A tensor's shape is invalid (zero or negative dims, too many dims, row not a whole number of blocks).
    case invalidShape(path: String, offset: Int, tensor: String, reason: String)
    /// Two metadata keys or two tensors share a name.
    case duplicateName(path: String, offset: Int, name: String)
    /// A tensor's data does not start on the file's alignment.
    case misalignedOffset(path: String, offset: Int, tensor: String, alignment: Int)
    /// A tensor's data runs past the end of the file.
    case tensorPastEnd(path: String, offset: Int, tensor: String, byteCount: Int, fileSize: Int)
    /// A row range asked of `dequantizeRows` is outside the tensor.
    case rowsOutOfRange(path: String, offset: Int, tensor: String, rows: Range<Int>, rowCount: Int)
    /// The writer was given something it cannot encode.
    case invalidWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "GGUF file not found: \(path) (offset 0). Check the path, or run `make model` to fetch the default model."
        case .notReadable(let path, let reason):
            return "Cannot read GGUF file \(path) at offset 0: \(reason). Check that it is a regular file you may read."
        case .badMagic(let path, let offset, let found):
            let shown = found.map { b in (32..<127).contains(b) ? String(UnicodeScalar(b)) : "\\x" + hex(b) }.joined()
            return "\(path) is not a GGUF file: bad magic \"\(shown)\" at offset \(offset) (expected \"GGUF\"). Pass a .gguf model file."
        case .unsupportedVersion(let path, let offset, let version) where version.byteSwapped == 2 || version.byteSwapped == 3:
            return "\(path) is a big-endian GGUF file (version field at offset \(offset) reads \(version)); only little-endian files are supported. Convert it with llama.cpp's gguf tools."
        case .unsupportedVersion(let path, let offset, let version):
            return "\(path) is GGUF version \(version) (at offset \(offset)); only versions 2 and 3 are supported. Convert it with a recent llama.cpp."
        case .truncated(let path, let offset, let needed, let fileSize):
            return "\(path) is truncated: needed \(needed) bytes at offset \(offset), but the file is \(fileSize) bytes. The download is probably incomplete; fetch the file again."
        case .stringPastEnd(let path, let offset, let length, let fileSize):
            return "\(path) is corrupt: a string at offset \(offset) claims \(length) bytes, past the end of the file (\(fileSize) bytes). Fetch the file again."
        case .unknownValueType(let path, let offset, let key, let code):
            return "\(path) is corrupt or too new: metadata key \"\(key)\" has unknown value type \(code) at offset \(offset)."
        case .invalidMetadata(let path, let offset, let key, let reason):
            return "\(path) has invalid metadata \"\(key)\" at offset \(offset): \(reason)."
        case .unknownTensorType(let path, let offset, let tensor, let code):
            return "\(path): tensor \"\(tensor)\" has unknown tensor type \(code) at offset \(offset). The file is corrupt or uses a ggml type this reader does not know."
        case .unsupportedTensorType(let path, let offset, let tensor, let type):
            return "\(path): tensor \"\(tensor)\" (data at offset \(offset)) has type \(type), which cannot be dequantised. Supported types: \(GGMLType.supportedNames). Use a model quantised with one of those."
        case .invalidShape(let path, let offset, let tensor, let reason):
            return "\(path): tensor \"\(tensor)\" described at offset \(offset) has an invalid shape: \(reason)."
        case .duplicateName(let path, let offset, let name):
            return "\(path) is corrupt: the name \"\(name)\" at offset \(offset) is used twice."
        case .misalignedOffset(let path, let offset, let tensor, let alignment):
            return "\(path): tensor \"\(tensor)\" data at offset \(offset) is not aligned to \(alignment) bytes. The file is corrupt."
        case .tensorPastEnd(let path, let offset, let tensor, let byteCount, let fileSize):
            return "\(path): tensor \"\(tensor)\" needs \(byteCount) bytes at offset \(offset), past the end of the file (\(fileSize) bytes). The download is probably incomplete; fetch the file again."
        case .rowsOutOfRange(let path, let offset, let tensor, let rows, let rowCount):
            return "\(path): rows \(rows.lowerBound)..<\(rows.upperBound) of tensor \"\(tensor)\" (data at offset \(offset)) are out of range; it has \(rowCount) rows."
        case .invalidWrite(let path, let reason):
            return "Cannot write GGUF file \(path) (offset 0): \(reason)."
        }
    }
}

/// Two hex digits of a byte.
private func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
