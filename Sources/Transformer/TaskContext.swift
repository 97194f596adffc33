import Foundation

/// The one small value passed down through long work: a cancellation
/// flag checked between layers and sweep steps, and a progress callback. The kernel bridges
/// its interrupt flag and its progress bar into this; the model side knows nothing of Jupyter.
public final class TaskContext: @unchecked Sendable {
    private let cancelled: @Sendable () -> Bool
    private let progress: @Sendable (_ fraction: Double, _ label: String) -> Void

    public init(isCancelled: @escaping @Sendable () -> Bool = { false },
                progress: @escaping @Sendable (_ fraction: Double, _ label: String) -> Void = { _, _ in }) {
        self.cancelled = isCancelled
        self.progress = progress
    }

    /// A context that is never cancelled and reports nowhere.
    public static let none = TaskContext()

    public var isCancelled: Bool { cancelled() }

    /// Throws `CancelledError` when the user interrupted.
    public func checkCancelled() throws {
        if cancelled() { throw CancelledError() }
    }

    /// Reports `fraction` (0...1) done, with a short label ("layer 12/30").
    public func report(_ fraction: Double, _ label: String = "") {
        progress(min(max(fraction, 0), 1), label)
    }
}

/// Thrown when a TaskContext was cancelled (a Jupyter interrupt).
public struct CancelledError: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "Interrupted." }
}
