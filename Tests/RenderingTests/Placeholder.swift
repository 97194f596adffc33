import XCTest
@testable import Rendering

final class RenderingPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
