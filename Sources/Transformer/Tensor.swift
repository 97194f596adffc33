import Foundation

// MARK: - Tensor

/// A dense float array with a shape (row-major, last dimension fastest).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "tensor shape does not match its data")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) { self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *))) }

    /// Elements in one slice along the first axis.
    public var stride0: Int { shape.dropFirst().reduce(1, *) }

    /// The `i`-th slice along the first axis.
    public subscript(i: Int) -> Tensor {
        let s = stride0
        return Tensor(shape: Array(shape.dropFirst()), data: Array(data[i * s..<(i + 1) * s]))
    }

    /// Bytes held by the data.
    public var byteCount: Int { data.count * MemoryLayout<Float>.size }
}
