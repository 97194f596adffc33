import XCTest
@testable import GGUF

final class GGUFPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
