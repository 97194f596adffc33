import CKernels
import Foundation

// MARK: - Kernel configuration

/// The kernels' tunables in one value: the instruction set chosen from the CPU, the sizes of the
/// dequantisation chunks, and how products are shared out between the cores.
public struct KernelConfiguration: Sendable {
    /// Instruction set of the C kernels (`PK_PORTABLE`, `PK_AVX2`, `PK_AVX512`).
    public var level: Int32
    /// Threads that share a product: the machine's cores.
    public var cores: Int
    /// Floats of weights dequantised at a time while decoding (a few rows: stays in L1 while the
    /// activation rows are multiplied by it).
    public var decodeChunkFloats: Int
    /// Floats of weights dequantised at a time for batches (an L2-sized chunk that every
    /// activation row then reads).
    public var batchChunkFloats: Int
    /// Activation rows from which a product dequantises L2-sized chunks (below: decode chunks).
    public var batchFromRows: Int
    /// Tasks per core in a product of two or three activation rows (one row takes guided tasks,
    /// below): whole tasks are claimed, so a region ends at most one small task after the other thread.
    public var decodeTasksPerCore: Int
    /// Fewest weights in a task of a one-row product (its last, smallest tasks): enough to pay for
    /// the atomic claim, few enough that the cores end a region within a microsecond of each other.
    public var decodeTaskWeights: Int
    /// Query rows up to which attention runs row by row (decode) instead of through BLAS.
    public var attentionRowMaxRows: Int
    /// The activation precision of a model loaded without saying one: F32 unless
    /// `PERISCOPE_ACTIVATIONS=int8` is set (`load … activations int8` chooses per model).
    public var defaultActivations: ActivationPrecision

    /// The configuration for this machine.
    public static let detected = KernelConfiguration(
        level: Int32(pk_best_level()),
        cores: max(1, ProcessInfo.processInfo.activeProcessorCount),
        decodeChunkFloats: 4096,
        batchChunkFloats: 49_152,
        batchFromRows: 4,
        decodeTasksPerCore: 4,
        decodeTaskWeights: 16_384,
        attentionRowMaxRows: 4,
        defaultActivations: ProcessInfo.processInfo.environment["PERISCOPE_ACTIVATIONS"] == "int8" ? .int8 : .f32)

    /// The instruction set's name: "avx512", "avx2" or "portable".
    public var levelName: String {
        switch level {
        case Int32(PK_AVX512): return "avx512"
        case Int32(PK_AVX2): return "avx2"
        default: return "portable"
        }
    }
}

/// The configuration every product uses (tests lower `level` to compare the paths).
nonisolated(unsafe) public var kernelConfiguration = KernelConfiguration.detected
