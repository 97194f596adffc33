// MARK: - Bounds-checked little-endian reading

/// Reads little-endian values from a byte buffer, checking every read against its end.
///
/// Each failed check becomes a `GGUFError` naming the file, the offset and the need.
struct ByteCursor {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var offset: Int = 0

    init(base: UnsafeRawPointer, size: Int, path: String) {
        self.base = base
        self.size = size
        self.path = path
    }

    /// Throws `truncated` unless `count` more bytes are available.
    @inline(__always)
    func require(_ count: Int) throws {
        if count < 0 || count > size - offset {
            throw GGUFError.truncated(path: path, offset: offset, needed: count, fileSize: size)
        }
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try require(MemoryLayout<T>.size)
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readFloat32() throws -> Float { Float(bitPattern: try read(UInt32.self)) }
    mutating func readFloat64() throws -> Double { Double(bitPattern: try read(UInt64.self)) }

    /// Reads a GGUF string: a u64 length then that many UTF-8 bytes.
    mutating func readString() throws -> String {
        let start = offset
        let length = try read(UInt64.self)
        guard length <= UInt64(size - offset) else {
            throw GGUFError.stringPastEnd(path: path, offset: start, length: length, fileSize: size)
        }
        let n = Int(length)
        let s = String(decoding: UnsafeRawBufferPointer(start: base + offset, count: n), as: UTF8.self)
        offset += n
        return s
    }

    /// Reads a u64 count and checks that `count * minimumElementSize` bytes could follow,
    /// so a corrupt count fails cleanly instead of allocating without bound.
    mutating func readCount(minimumElementSize: Int) throws -> Int {
        let start = offset
        let raw = try read(UInt64.self)
        let remaining = UInt64(size - offset)
        let perElement = UInt64(max(minimumElementSize, 1))
        guard raw <= remaining / perElement else {
            let needed = raw > UInt64(Int.max) / perElement ? Int.max : Int(raw * perElement)
            throw GGUFError.truncated(path: path, offset: start, needed: needed, fileSize: size)
        }
        return Int(raw)
    }
}
