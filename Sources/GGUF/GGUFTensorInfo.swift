// MARK: - Tensor descriptors

/// Where a tensor lives in a GGUF file and how it is encoded.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Shape in GGUF (`ne`) order: `dims[0]` is the contiguous (fastest-varying) axis.
    public let dims: [Int]
    /// Element encoding.
    public let type: GGMLType
    /// Absolute byte offset of the tensor's data in the file.
    public let offset: Int
    /// Size of the tensor's data in bytes.
    public let byteCount: Int

    public init(name: String, dims: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.dims = dims
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    /// Total number of values.
    public var elementCount: Int { dims.reduce(1, *) }
    /// Number of values in one row: `dims[0]`.
    public var rowLength: Int { dims.first ?? 1 }
    /// Number of rows: the product of every dim after the first.
    public var rowCount: Int { dims.dropFirst().reduce(1, *) }
    /// Bytes of one row.
    public var bytesPerRow: Int { rowLength / type.blockSize * type.bytesPerBlock }
}
