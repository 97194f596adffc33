import XCTest
@testable import JupyterKernel

final class JupyterKernelPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
