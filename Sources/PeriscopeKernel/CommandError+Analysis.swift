import Interpretability
import PeriscopeLanguage
import Transformer

extension CommandError {
    /// Runs model-side work and turns its errors into cell errors at `range`: an analysis or
    /// dataset error becomes a sentence pointing at the statement, cancellation becomes
    /// `.interrupted`, and command errors pass through unchanged.
    static func catching<T>(at range: SourceRange?, _ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch let error as CommandError {
            throw error
        } catch is CancelledError {
            throw CommandError.interrupted
        } catch let error as AnalysisError {
            throw CommandError.analysis(error, range: range)
        } catch let error as DatasetError {
            throw CommandError.dataset(error, range: range)
        }
    }
}
