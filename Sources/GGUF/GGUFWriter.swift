import Foundation

// MARK: - Writer

/// Builds a little-endian GGUF v3 file with metadata and F32 tensors, e.g. a llama.cpp
/// control vector (`general.architecture = "controlvector"`, tensors `direction.{L}`).
///
/// The layout matches the Python `gguf.GGUFWriter`: header, key/values in insertion
/// order, tensor descriptors, padding to the alignment, then each tensor's data padded
/// to the alignment. Problems (mixed-type arrays, shape/value mismatches, duplicate
/// tensor names) are reported when the file is encoded.
public struct GGUFWriter: Sendable {
    /// Alignment of tensor data; a value other than 32 is recorded as `general.alignment`.
    public var alignment: Int = 32

    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var tensorEntries: [(name: String, dims: [Int], values: [Float])] = []

    /// An empty writer; with `architecture`, `general.architecture` is its first key.
    public init(architecture: String? = nil) {
        if let architecture { add("general.architecture", .string(architecture)) }
    }

    /// Sets metadata `key`; setting a key again replaces its value in place.
    public mutating func add(_ key: String, _ value: GGUFValue) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Adds an F32 tensor; `dims` are in GGUF order (`dims[0]` contiguous) and
    /// `values.count` must equal their product.
    public mutating func addTensor(name: String, dims: [Int], values: [Float]) {
        tensorEntries.append((name, dims, values))
    }

    /// The metadata keys in the order they will be written.
    public var metadataKeys: [String] { keys }

    // MARK: - Encoding

    /// The complete file as bytes; `path` only labels errors.
    public func encoded(path: String = "<memory>") throws -> [UInt8] {
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError.writerAlignment(path: path, alignment: alignment)
        }
        var allKeys = keys
        var allValues = values
        if alignment != 32, allValues["general.alignment"] == nil {
            allKeys.append("general.alignment")
            allValues["general.alignment"] = .uint32(UInt32(alignment))
        }
        if let a = allValues["general.alignment"], a != .uint32(UInt32(alignment)) {
            throw GGUFError.alignmentMismatch(path: path, metadata: "\(a)", writer: alignment)
        }

        var out = ByteSink()
        out.u32(0x4655_4747)  // "GGUF"
        out.u32(3)
        out.u64(UInt64(tensorEntries.count))
        out.u64(UInt64(allKeys.count))
        for key in allKeys {
            guard let value = allValues[key] else { continue }
            out.string(key)
            out.u32(value.valueType.rawValue)
            try out.value(value, key: key, path: path)
        }

        // Tensor descriptors, with offsets relative to the (aligned) data section.
        var names = Set<String>()
        var relative = 0
        for t in tensorEntries {
            guard names.insert(t.name).inserted else {
                throw GGUFError.tensorAddedTwice(path: path, tensor: t.name)
            }
            guard (1...GGUFFile.maxDims).contains(t.dims.count), t.dims.allSatisfy({ $0 > 0 }) else {
                throw GGUFError.badDims(path: path, tensor: t.name, dims: t.dims, maximum: GGUFFile.maxDims)
            }
            guard t.dims.reduce(1, *) == t.values.count else {
                throw GGUFError.valueCount(path: path, tensor: t.name, dims: t.dims, count: t.values.count)
            }
            out.string(t.name)
            out.u32(UInt32(t.dims.count))
            for d in t.dims { out.u64(UInt64(d)) }
            out.u32(GGMLType.f32.rawValue)
            out.u64(UInt64(relative))
            relative += padded(4 * t.values.count)
        }
        out.pad(to: alignment)
        for t in tensorEntries {
            out.bytes.reserveCapacity(out.bytes.count + 4 * t.values.count + alignment)
            for v in t.values { out.u32(v.bitPattern) }
            out.pad(to: alignment)
        }
        return out.bytes
    }

    /// Writes the file to `path`, replacing any file there.
    public func write(to path: String) throws {
        let bytes = try encoded(path: path)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw GGUFError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }

    private func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}

// MARK: - Byte sink

/// Appends little-endian GGUF encodings to a byte array.
private struct ByteSink {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u64(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func pad(to alignment: Int) {
        let extra = (alignment - bytes.count % alignment) % alignment
        bytes.append(contentsOf: repeatElement(0, count: extra))
    }

    /// The value's payload (its type code is written by the caller).
    mutating func value(_ value: GGUFValue, key: String, path: String) throws {
        try encode(value, key: key, path: path)
    }

    private mutating func encode(_ value: GGUFValue, key: String, path: String) throws {
        switch value {
        case .uint8(let v): u8(v)
        case .int8(let v): u8(UInt8(bitPattern: v))
        case .uint16(let v): u16(v)
        case .int16(let v): u16(UInt16(bitPattern: v))
        case .uint32(let v): u32(v)
        case .int32(let v): u32(UInt32(bitPattern: v))
        case .uint64(let v): u64(v)
        case .int64(let v): u64(UInt64(bitPattern: v))
        case .float32(let v): u32(v.bitPattern)
        case .float64(let v): u64(v.bitPattern)
        case .bool(let v): u8(v ? 1 : 0)
        case .string(let s): string(s)
        case .array(let elements):
            // An empty array still needs an element type; int32 is what gguf-py picks for ints.
            let elementType = elements.first?.valueType ?? .int32
            guard elements.allSatisfy({ $0.valueType == elementType }) else {
                throw GGUFError.mixedArray(path: path, key: key)
            }
            u32(elementType.rawValue)
            u64(UInt64(elements.count))
            // A nested array's payload carries its own element type and count.
            for element in elements { try encode(element, key: key, path: path) }
        }
    }
}
