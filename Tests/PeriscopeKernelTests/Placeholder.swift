import XCTest
@testable import PeriscopeKernel

final class PeriscopeKernelPlaceholderTests: XCTestCase {
    func testBuilds() {}
}
