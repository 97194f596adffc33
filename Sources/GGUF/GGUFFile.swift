import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - GGUF file

/// A GGUF file (version 2 or 3), memory-mapped read-only.
///
/// Opening parses the header, the metadata and the tensor descriptors and validates
/// every tensor's extent; tensor data stays in the mapping until asked for. Pointers
/// returned by `bytes(of:)` are valid only while this object is alive.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The GGUF format version (2 or 3).
    public let version: UInt32
    /// Every metadata key and its value.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor descriptors in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Size of the file in bytes.
    public let fileSize: Int
    /// Absolute offset where the tensor data section starts.
    public let dataOffset: Int

    /// The read-only mapping of the whole file.
    private let mapping: UnsafeMutableRawPointer
    private let tensorIndex: [String: Int]

    /// Opens and maps the file at `path`; throws `GGUFError` if it is missing, unreadable
    /// or not a valid GGUF v2/v3 file.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw GGUFError.fileNotFound(path: path) }
            throw GGUFError.notReadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw GGUFError.notReadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError.notReadable(path: path, reason: "it is not a regular file")
        }
        let size = Int(st.st_size)
        fileSize = size

        // An empty file cannot be mapped; report it as truncated before the magic.
        guard size > 0 else {
            throw GGUFError.truncated(path: path, offset: 0, needed: 4, fileSize: 0)
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw GGUFError.notReadable(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        mapping = map

        do {
            let parsed = try Self.parse(base: UnsafeRawPointer(map), size: size, path: path)
            version = parsed.version
            metadata = parsed.metadata
            metadataKeys = parsed.keys
            tensors = parsed.tensors
            alignment = parsed.alignment
            dataOffset = parsed.dataOffset
            var index = [String: Int](minimumCapacity: parsed.tensors.count)
            for (i, t) in parsed.tensors.enumerated() { index[t.name] = i }
            tensorIndex = index
        } catch {
            munmap(map, size)
            throw error
        }
    }

    deinit {
        munmap(mapping, fileSize)
    }

    /// Bytes of the mapping currently in this process's memory (pages the kernel reports as
    /// resident), or nil where `mincore` fails.
    public var residentMappedBytes: Int? {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (fileSize + page - 1) / page
        var present = [UInt8](repeating: 0, count: pages)
        let status = present.withUnsafeMutableBufferPointer { mincore(mapping, fileSize, $0.baseAddress) }
        guard status == 0 else { return nil }
        return present.reduce(0) { $0 + Int($1 & 1) } * page
    }

    // MARK: - Tensors

    /// The descriptor of the tensor called `name`, if the file has one.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor, inside the mapping (valid while this file is alive).
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        guard tensor.byteCount > 0, tensor.offset >= 0, tensor.offset + tensor.byteCount <= fileSize else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(mapping) + tensor.offset, count: tensor.byteCount)
    }

    /// All of a tensor's values as `Float`, row-major with `dims[0]` fastest.
    public func dequantize(_ tensor: GGUFTensorInfo) throws -> [Float] {
        let count = tensor.elementCount
        let result = try [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            if let base = buffer.baseAddress, count > 0 {
                try dequantizeRows(tensor, rows: 0..<tensor.rowCount, into: base)
            }
            initialised = count
        }
        return result
    }

    /// Decodes rows `rows` of a tensor (each `rowLength` values) into `into`, which must
    /// have room for `rows.count * rowLength` floats. Large requests use all cores.
    public func dequantizeRows(_ tensor: GGUFTensorInfo, rows: Range<Int>,
                               into destination: UnsafeMutablePointer<Float>) throws {
        guard tensor.type.isSupported else {
            throw GGUFError.unsupportedTensorType(path: path, offset: tensor.offset, tensor: tensor.name, type: tensor.type.name)
        }
        guard rows.lowerBound >= 0, rows.upperBound <= tensor.rowCount else {
            throw GGUFError.rowsOutOfRange(path: path, offset: tensor.offset, tensor: tensor.name,
                                           rows: rows, rowCount: tensor.rowCount)
        }
        guard !rows.isEmpty, tensor.rowLength > 0 else { return }
        // A descriptor from another file may not fit this one.
        let source = bytes(of: tensor)
        guard let src = source.baseAddress, source.count == tensor.byteCount else {
            throw GGUFError.tensorPastEnd(path: path, offset: tensor.offset, tensor: tensor.name,
                                          byteCount: tensor.byteCount, fileSize: fileSize)
        }
        let rowLength = tensor.rowLength
        let rowBytes = tensor.bytesPerRow
        let type = tensor.type
        nonisolated(unsafe) let first = src + rows.lowerBound * rowBytes

        // Split into chunks of about a million values so big tensors decode in parallel.
        let total = rows.count * rowLength
        let chunkRows = max(1, (1 << 20) / rowLength)
        let chunks = (rows.count + chunkRows - 1) / chunkRows
        if total < (1 << 21) || chunks < 2 {
            GGUF.dequantize(type, from: first, to: destination, count: total)
            return
        }
        let rowCount = rows.count
        nonisolated(unsafe) let out = destination
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let r0 = c * chunkRows
            let n = min(chunkRows, rowCount - r0)
            GGUF.dequantize(type, from: first + r0 * rowBytes, to: out + r0 * rowLength, count: n * rowLength)
        }
    }

    // MARK: - Parsing

    private struct Parsed {
        var version: UInt32
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    /// The largest number of dims ggml supports (`GGML_MAX_DIMS`).
    static let maxDims = 4

    private static func parse(base: UnsafeRawPointer, size: Int, path: String) throws -> Parsed {
        var c = ByteCursor(base: base, size: size, path: path)

        // Header: magic, version, tensor count, metadata count.
        if size < 4 {
            let found = (0..<size).map { base.load(fromByteOffset: $0, as: UInt8.self) }
            if !found.isEmpty, found != Array("GGUF".utf8.prefix(found.count)) {
                throw GGUFError.badMagic(path: path, offset: 0, found: found)
            }
            throw GGUFError.truncated(path: path, offset: 0, needed: 4, fileSize: size)
        }
        let magic = try c.read(UInt32.self)
        guard magic == 0x4655_4747 else {
            let found = (0..<4).map { base.load(fromByteOffset: $0, as: UInt8.self) }
            throw GGUFError.badMagic(path: path, offset: 0, found: found)
        }
        let version = try c.read(UInt32.self)
        guard version == 2 || version == 3 else {
            throw GGUFError.unsupportedVersion(path: path, offset: 4, version: version)
        }
        // Minimum on-disk sizes: a tensor info is at least 8+4+8+4+8 bytes, a key/value 8+4+1.
        let tensorCount = try c.readCount(minimumElementSize: 32)
        let kvCount = try c.readCount(minimumElementSize: 13)

        // Metadata.
        var metadata = [String: GGUFValue](minimumCapacity: kvCount)
        var keys = [String]()
        keys.reserveCapacity(kvCount)
        var alignmentKeyOffset = 0
        for _ in 0..<kvCount {
            let keyOffset = c.offset
            let key = try c.readString()
            let typeOffset = c.offset
            let code = try c.read(UInt32.self)
            guard let type = GGUFValueType(rawValue: code) else {
                throw GGUFError.unknownValueType(path: path, offset: typeOffset, key: key, code: code)
            }
            let value = try readValue(type, cursor: &c, key: key)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw GGUFError.duplicateName(path: path, offset: keyOffset, name: key)
            }
            keys.append(key)
            if key == "general.alignment" { alignmentKeyOffset = keyOffset }
        }

        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0 else {
                throw GGUFError.badAlignment(path: path, offset: alignmentKeyOffset, found: "\(a)")
            }
            alignment = Int(v)
        }

        // Tensor descriptors: name, dims, type, offset relative to the data section.
        struct Raw { var name: String; var dims: [Int]; var type: GGMLType; var relative: UInt64; var at: Int }
        var raws = [Raw]()
        raws.reserveCapacity(tensorCount)
        var seen = Set<String>(minimumCapacity: tensorCount)
        for _ in 0..<tensorCount {
            let at = c.offset
            let name = try c.readString()
            guard seen.insert(name).inserted else {
                throw GGUFError.duplicateName(path: path, offset: at, name: name)
            }
            let nDims = Int(try c.read(UInt32.self))
            guard (1...maxDims).contains(nDims) else {
                throw GGUFError.badDimensionCount(path: path, offset: at, tensor: name, count: nDims, maximum: maxDims)
            }
            var dims = [Int]()
            var product = 1
            for _ in 0..<nDims {
                let d = try c.read(UInt64.self)
                let (p, overflow) = product.multipliedReportingOverflow(by: Int(clamping: d))
                guard d <= UInt64(Int32.max) * 1024, !overflow else {
                    throw GGUFError.dimensionTooLarge(path: path, offset: at, tensor: name, size: d)
                }
                product = p
                dims.append(Int(d))
            }
            let typeOffset = c.offset
            let code = try c.read(UInt32.self)
            guard let type = GGMLType(rawValue: code) else {
                throw GGUFError.unknownTensorType(path: path, offset: typeOffset, tensor: name, code: code)
            }
            guard dims[0] % type.blockSize == 0 else {
                throw GGUFError.partialBlock(path: path, offset: at, tensor: name, rowLength: dims[0], type: type.name,
                                             blockSize: type.blockSize)
            }
            let relative = try c.read(UInt64.self)
            raws.append(Raw(name: name, dims: dims, type: type, relative: relative, at: at))
        }

        // The data section starts at the next multiple of the alignment.
        let dataOffset = (c.offset + alignment - 1) / alignment * alignment
        var tensors = [GGUFTensorInfo]()
        tensors.reserveCapacity(raws.count)
        for r in raws {
            // The element count fits an Int (checked above), its size in bytes need not.
            let blocks = r.dims.reduce(1, *) / r.type.blockSize
            let (byteCount, tooLarge) = blocks.multipliedReportingOverflow(by: r.type.bytesPerBlock)
            guard !tooLarge else {
                throw GGUFError.tensorTooLarge(path: path, offset: r.at, tensor: r.name, dims: r.dims, type: r.type.name)
            }
            guard r.relative % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedOffset(path: path, offset: dataOffset &+ Int(clamping: r.relative),
                                                 tensor: r.name, alignment: alignment)
            }
            guard r.relative <= UInt64(size), byteCount <= size - (dataOffset + Int(r.relative)) else {
                throw GGUFError.tensorPastEnd(path: path, offset: dataOffset &+ Int(clamping: r.relative),
                                              tensor: r.name, byteCount: byteCount, fileSize: size)
            }
            tensors.append(GGUFTensorInfo(name: r.name, dims: r.dims, type: r.type,
                                          offset: dataOffset + Int(r.relative), byteCount: byteCount))
        }
        return Parsed(version: version, metadata: metadata, keys: keys, tensors: tensors,
                      alignment: alignment, dataOffset: dataOffset)
    }

    /// Reads one metadata value of type `type` (recursing into arrays).
    private static func readValue(_ type: GGUFValueType, cursor c: inout ByteCursor, key: String) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self))
        case .int8: return .int8(try c.read(Int8.self))
        case .uint16: return .uint16(try c.read(UInt16.self))
        case .int16: return .int16(try c.read(Int16.self))
        case .uint32: return .uint32(try c.read(UInt32.self))
        case .int32: return .int32(try c.read(Int32.self))
        case .uint64: return .uint64(try c.read(UInt64.self))
        case .int64: return .int64(try c.read(Int64.self))
        case .float32: return .float32(try c.readFloat32())
        case .float64: return .float64(try c.readFloat64())
        case .bool:
            let at = c.offset
            let b = try c.read(UInt8.self)
            guard b <= 1 else {
                throw GGUFError.badBool(path: c.path, offset: at, key: key, value: b)
            }
            return .bool(b == 1)
        case .string: return .string(try c.readString())
        case .array:
            let typeOffset = c.offset
            let code = try c.read(UInt32.self)
            guard let elementType = GGUFValueType(rawValue: code) else {
                throw GGUFError.unknownValueType(path: c.path, offset: typeOffset, key: key, code: code)
            }
            let count = try c.readCount(minimumElementSize: elementType.fixedSize ?? (elementType == .string ? 8 : 12))
            var elements = [GGUFValue]()
            elements.reserveCapacity(count)
            // Fast paths for the big typed arrays of tokenizers (tokens, scores, token types).
            switch elementType {
            case .string:
                for _ in 0..<count { elements.append(.string(try c.readString())) }
            case .float32:
                for i in 0..<count {
                    elements.append(.float32(Float(bitPattern: UInt32(littleEndian: c.base.loadUnaligned(fromByteOffset: c.offset + 4 * i, as: UInt32.self)))))
                }
                c.offset += 4 * count
            case .int32:
                for i in 0..<count {
                    elements.append(.int32(Int32(littleEndian: c.base.loadUnaligned(fromByteOffset: c.offset + 4 * i, as: Int32.self))))
                }
                c.offset += 4 * count
            default:
                for _ in 0..<count { elements.append(try readValue(elementType, cursor: &c, key: key)) }
            }
            return .array(elements)
        }
    }
}
