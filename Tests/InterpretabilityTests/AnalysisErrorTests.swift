import XCTest
@testable import Interpretability

/// AnalysisError: the analyses reject bad parameters with cases that carry the facts (checked as
/// data), and each case's description says what was wrong and what is valid (checked as text).
final class AnalysisErrorTests: XCTestCase {
    func assertThrows(_ expected: AnalysisError, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? AnalysisError, expected, file: file, line: line)
        }
    }

    // MARK: Cases

    func testParameterChecksRaiseTheCaseWithTheValueAndRange() {
        let rows: [[Float]] = [[1, 0], [0, 1], [1, 1]]
        assertThrows(.tooFewVectors(count: 1, needed: 2)) { _ = try PCA.fit([[1, 2]]) }
        assertThrows(.intOutOfRange(name: "components", value: 0, lowest: 1, highest: nil)) { _ = try PCA.fit(rows, components: 0) }
        assertThrows(.intOutOfRange(name: "label", value: 2, lowest: 0, highest: 1)) {
            _ = try LogisticProbe.train(features: rows, labels: [0, 1, 2], classCount: 2)
        }
        assertThrows(.numberOutOfRange(name: "split", value: 1.5, domain: .openUnitInterval, example: 0.7)) {
            _ = try ProbeSplit.stratified(labels: [0, 1, 0, 1], classCount: 2, trainFraction: 1.5, seed: 0)
        }
        assertThrows(.noTrainingRows) { _ = try LogisticProbe.train(features: [], labels: [], classCount: 2) }
        assertThrows(.tooFewClasses(found: 1)) { _ = try LogisticProbe.train(features: rows, labels: [0, 0, 0], classCount: 1) }
        assertThrows(.zeroVector) { _ = try Similarity.cosine([1, 2], [0, 0]) }
    }

    // MARK: Wording

    func testDescriptionsNameTheParameterTheValueAndWhatIsValid() {
        let cases: [(AnalysisError, String)] = [
            (.intOutOfRange(name: "top", value: 0, lowest: 1, highest: 49152), "`top` is 0, but it must be between 1 and 49152."),
            (.intOutOfRange(name: "generate", value: -2, lowest: 1, highest: nil), "`generate` is -2, but it must be at least 1."),
            (.numberOutOfRange(name: "std", value: -1, domain: .positive, example: 3), "`std` is -1, but it must be greater than 0, e.g. 3."),
            (.numberOutOfRange(name: "split", value: 1.5, domain: .openUnitInterval, example: 0.7),
             "`split` is 1.5, but it must be strictly between 0 and 1, e.g. 0.7."),
            (.numberOutOfRange(name: "ridge", value: -0.25, domain: .nonNegative, example: nil), "`ridge` is -0.25, but it must be 0 or more."),
            (.tooFewVectors(count: 1, needed: 2), "There is 1 vector but at least 2 are needed; give more prompts."),
            (.labelCountMismatch(prompts: 4, labels: 3), "There are 4 prompts but 3 labels; give one label per prompt."),
            (.noTrainingRows, "The dataset cannot be used: there are no training rows."),
            (.tooFewClasses(found: 1), "The dataset cannot be used: it has one label, and a probe needs at least two."),
            (.noRowsHeldOut(rows: 3),
             "The dataset cannot be used: its 3 rows are too few to hold any out for testing; add rows or lower `split`."),
            (.zeroVector, "A vector of all zeros has no direction, so its cosine similarity is undefined."),
            (.mapWidths(input: 576, output: 640, source: 640, target: 576),
             "The affine map cannot be used here: it maps 576 to 640 numbers but the source states have 640 and the target's 576."),
            (.mapLayers(fittedSource: 4, fittedTarget: 12, source: 5, target: 12),
             "The affine map cannot be used here: it was fitted from layer 4 to layer 12, but this patch reads layer 5 and writes layer 12; fit a map for those layers."),
            (.tunedLensMismatch(lensLayers: 30, lensWidth: 576, layers: 30, width: 576, hook: "resid_pre"),
             "The tuned lens cannot be used here: it reads resid_post of a model with 30 layers of 576 numbers, but this lens reads resid_pre of a model with 30 layers of 576 numbers."),
        ]
        for (error, sentence) in cases { XCTAssertEqual(error.description, sentence) }
    }
}
