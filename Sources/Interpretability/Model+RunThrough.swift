import Transformer

extension Model {
    /// Runs one sequence with `hooks` through block `lastLayer` and stops there: no later blocks,
    /// no unembedding. Analyses that only read activations up to some layer call this.
    func run(_ tokens: [Int], hooks: HookSet, through lastLayer: Int, context: TaskContext) throws {
        var caches = [makeCache()]
        _ = try forward([tokens], caches: &caches, hooks: hooks, logits: .none, stopAfterLayer: lastLayer, context: context)
    }
}
