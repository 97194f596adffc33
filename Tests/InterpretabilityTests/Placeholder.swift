import XCTest
@testable import Interpretability

final class InterpretabilityPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
