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
    /// `general.alignment` is not a UInt32 power of two (`found` shows the value as stored).
    case badAlignment(path: String, offset: Int, found: String)
    /// A bool metadata value other than 0 or 1.
    case badBool(path: String, offset: Int, key: String, value: UInt8)
    /// A tensor's type code is not a ggml type.
    case unknownTensorType(path: String, offset: Int, tensor: String, code: UInt32)
    /// A tensor's type is known but cannot be dequantised.
    case unsupportedTensorType(path: String, offset: Int, tensor: String, type: String)
    /// A tensor with more dimensions than GGUF allows (`maximum`), or none.
    case badDimensionCount(path: String, offset: Int, tensor: String, count: Int, maximum: Int)
    /// A tensor dimension too large to be real (its product would overflow).
    case dimensionTooLarge(path: String, offset: Int, tensor: String, size: UInt64)
    /// A row length that is not a whole number of the type's blocks.
    case partialBlock(path: String, offset: Int, tensor: String, rowLength: Int, type: String, blockSize: Int)
    /// Two metadata keys or two tensors share a name.
    case duplicateName(path: String, offset: Int, name: String)
    /// A tensor's data does not start on the file's alignment.
    case misalignedOffset(path: String, offset: Int, tensor: String, alignment: Int)
    /// A tensor's data runs past the end of the file.
    case tensorPastEnd(path: String, offset: Int, tensor: String, byteCount: Int, fileSize: Int)
    /// A shape whose size in bytes does not fit in an Int (no file holds it).
    case tensorTooLarge(path: String, offset: Int, tensor: String, dims: [Int], type: String)
    /// A row range asked of `dequantizeRows` is outside the tensor.
    case rowsOutOfRange(path: String, offset: Int, tensor: String, rows: Range<Int>, rowCount: Int)
    /// The writer's alignment is not a power of two.
    case writerAlignment(path: String, alignment: Int)
    /// `general.alignment` was set to something other than the writer's alignment.
    case alignmentMismatch(path: String, metadata: String, writer: Int)
    /// The writer was given two tensors of one name.
    case tensorAddedTwice(path: String, tensor: String)
    /// The writer was given a tensor with no dimensions, too many, or one that is not positive.
    case badDims(path: String, tensor: String, dims: [Int], maximum: Int)
    /// The writer was given a tensor whose values do not fill its dims.
    case valueCount(path: String, tensor: String, dims: [Int], count: Int)
    /// The writer was given a metadata array mixing element types.
    case mixedArray(path: String, key: String)
    /// The file system refused the write (`reason` is its message).
    case writeFailed(path: String, reason: String)

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
        case .badAlignment(let path, let offset, let found):
            return "\(path) has invalid metadata \"general.alignment\" at offset \(offset): it must be a UInt32 power of two, found \(found)."
        case .badBool(let path, let offset, let key, let value):
            return "\(path) has invalid metadata \"\(key)\" at offset \(offset): a bool must be 0 or 1, found \(value)."
        case .unknownTensorType(let path, let offset, let tensor, let code):
            return "\(path): tensor \"\(tensor)\" has unknown tensor type \(code) at offset \(offset). The file is corrupt or uses a ggml type this reader does not know."
        case .unsupportedTensorType(let path, let offset, let tensor, let type):
            return "\(path): tensor \"\(tensor)\" (data at offset \(offset)) has type \(type), which cannot be dequantised. Supported types: \(GGMLType.supportedNames). Use a model quantised with one of those."
        case .badDimensionCount(let path, let offset, let tensor, let count, let maximum):
            return "\(path): tensor \"\(tensor)\" described at offset \(offset) has an invalid shape: it has \(count) dimensions; 1 to \(maximum) are allowed."
        case .dimensionTooLarge(let path, let offset, let tensor, let size):
            return "\(path): tensor \"\(tensor)\" described at offset \(offset) has an invalid shape: dimension \(size) is too large."
        case .partialBlock(let path, let offset, let tensor, let rowLength, let type, let blockSize):
            return "\(path): tensor \"\(tensor)\" described at offset \(offset) has an invalid shape: its row length \(rowLength) is not a multiple of the \(type) block size \(blockSize)."
        case .duplicateName(let path, let offset, let name):
            return "\(path) is corrupt: the name \"\(name)\" at offset \(offset) is used twice."
        case .misalignedOffset(let path, let offset, let tensor, let alignment):
            return "\(path): tensor \"\(tensor)\" data at offset \(offset) is not aligned to \(alignment) bytes. The file is corrupt."
        case .tensorPastEnd(let path, let offset, let tensor, let byteCount, let fileSize):
            return "\(path): tensor \"\(tensor)\" needs \(byteCount) bytes at offset \(offset), past the end of the file (\(fileSize) bytes). The download is probably incomplete; fetch the file again."
        case .tensorTooLarge(let path, let offset, let tensor, let dims, let type):
            return "\(path): tensor \"\(tensor)\" described at offset \(offset) has an invalid shape: \(dims.map(String.init).joined(separator: " × ")) values of \(type) need more bytes than any file can hold."
        case .rowsOutOfRange(let path, let offset, let tensor, let rows, let rowCount):
            return "\(path): rows \(rows.lowerBound)..<\(rows.upperBound) of tensor \"\(tensor)\" (data at offset \(offset)) are out of range; it has \(rowCount) rows."
        case .writerAlignment(let path, let alignment):
            return "Cannot write GGUF file \(path) (offset 0): the alignment \(alignment) is not a power of two."
        case .alignmentMismatch(let path, let metadata, let writer):
            return "Cannot write GGUF file \(path) (offset 0): general.alignment is \(metadata) but the writer's alignment is \(writer)."
        case .tensorAddedTwice(let path, let tensor):
            return "Cannot write GGUF file \(path) (offset 0): tensor \"\(tensor)\" is added twice."
        case .badDims(let path, let tensor, let dims, let maximum):
            return "Cannot write GGUF file \(path) (offset 0): tensor \"\(tensor)\" has dims \(dims); give 1 to \(maximum) positive sizes."
        case .valueCount(let path, let tensor, let dims, let count):
            return "Cannot write GGUF file \(path) (offset 0): tensor \"\(tensor)\" has dims \(dims) but \(count) values."
        case .mixedArray(let path, let key):
            return "Cannot write GGUF file \(path) (offset 0): metadata \"\(key)\" mixes element types in one array; GGUF arrays hold one type."
        case .writeFailed(let path, let reason):
            return "Cannot write GGUF file \(path) (offset 0): \(reason)."
        }
    }
}

/// Two hex digits of a byte.
private func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
