import XCTest
@testable import JupyterProtocol

final class JupyterProtocolPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
