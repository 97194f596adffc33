import Foundation

// MARK: - NumPy .npy

/// Writes float32 arrays as NumPy `.npy` files, format version 1.0: the magic `\x93NUMPY`, the
/// version, a little-endian header length, a Python-dict header (`'<f4'`, C order, the shape)
/// padded with spaces and a newline to a multiple of 64 bytes, then the data, little-endian.
public enum NpyWriter {
    /// The complete file contents for `values` of `shape` (row-major).
    public static func data(shape: [Int], values: [Float]) throws -> Data {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw NpyError.shapeMismatch(shape: shape, count: values.count)
        }
        let dims: String
        switch shape.count {
        case 0: dims = "()"
        case 1: dims = "(\(shape[0]),)"
        default: dims = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
        // magic (6) + version (2) + length (2) + header + "\n" is padded to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        guard header.utf8.count <= Int(UInt16.max) else { throw NpyError.shapeMismatch(shape: shape, count: values.count) }

        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        out.reserveCapacity(out.count + values.count * 4)
        values.withUnsafeBufferPointer { buffer in
            for value in buffer {
                let bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// Writes the file at `path` (replacing it), creating nothing else.
    public static func write(shape: [Int], values: [Float], to path: String) throws {
        let contents = try data(shape: shape, values: values)
        do {
            try contents.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw NpyError.cannotWrite(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}

/// Why an `.npy` file could not be written.
public enum NpyError: Error, Sendable, Equatable, CustomStringConvertible {
    case shapeMismatch(shape: [Int], count: Int)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let shape, let count):
            return "Cannot write an array of shape \(shape) from \(count) numbers; this is a bug in Periscope, please report it."
        case .cannotWrite(let path, let reason):
            return "Cannot write \(path): \(reason). Check that the folder exists and that you may write there."
        }
    }
}
