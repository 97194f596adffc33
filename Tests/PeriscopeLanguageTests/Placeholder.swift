import XCTest
@testable import PeriscopeLanguage

final class PeriscopeLanguagePlaceholderTests: XCTestCase {
    func testBuilds() {}
}
