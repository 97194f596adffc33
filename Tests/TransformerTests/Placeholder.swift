import XCTest
@testable import Transformer

final class TransformerPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
