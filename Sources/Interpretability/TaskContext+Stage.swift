import Transformer

// MARK: - Progress stages

extension TaskContext {
    /// A context for stage `index` of `count` equal stages: same cancellation, progress mapped
    /// into that stage's share of the whole.
    public func stage(_ index: Int, of count: Int, label: String) -> TaskContext {
        let parent = self
        return TaskContext(isCancelled: { parent.isCancelled }, progress: { fraction, inner in
            parent.report((Double(index) + fraction) / Double(max(count, 1)), inner.isEmpty ? label : "\(label): \(inner)")
        })
    }
}
