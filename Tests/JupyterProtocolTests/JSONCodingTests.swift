import Foundation
import XCTest
@testable import JupyterProtocol

final class JSONCodingTests: XCTestCase {
    func testIntsStayIntsAndDoublesStayDoubles() throws {
        let value = try JSONValue.parse(#"{"a": 1, "b": 1.0, "c": -7, "d": 2.5e3, "e": true, "f": null}"#)
        XCTAssertEqual(value["a"], .int(1))
        XCTAssertEqual(value["b"], .double(1.0))
        XCTAssertEqual(value["c"], .int(-7))
        XCTAssertEqual(value["d"], .double(2500))
        XCTAssertEqual(value["e"], .bool(true))
        XCTAssertEqual(value["f"], .null)
    }

    func testRoundTripPreservesEveryCase() throws {
        let value: JSONValue = [
            "int": 42, "neg": -3, "double": 0.1, "whole": 3.0, "bool": false, "null": nil,
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é 🤖",
            "list": [1, "two", [3.5], ["k": true]],
        ]
        let text = value.serialized()
        XCTAssertEqual(try JSONValue.parse(text), value)
        // Whole doubles keep a fraction so they are not read back as ints.
        XCTAssertTrue(text.contains("\"whole\":3.0"), text)
        XCTAssertTrue(text.contains("\\u0007"), "control characters must be escaped: \(text)")
    }

    func testSerializationIsCompactAndSorted() {
        let value: JSONValue = ["b": 1, "a": [true, nil]]
        XCTAssertEqual(value.serialized(), #"{"a":[true,null],"b":1}"#)
    }

    func testUnicodeEscapesIncludingSurrogatePairs() throws {
        XCTAssertEqual(try JSONValue.parse(#""\u00e9\ud83e\udd16\n""#), .string("é🤖\n"))
        // A lone surrogate cannot be represented; it becomes U+FFFD instead of failing.
        XCTAssertEqual(try JSONValue.parse(#""\ud800x""#), .string("\u{FFFD}x"))
    }

    func testNonFiniteDoublesSerializeAsNull() {
        XCTAssertEqual(JSONValue.array([.double(.nan), .double(.infinity)]).serialized(), "[null,null]")
    }

    func testMalformedInputIsRejectedWithAReason() {
        XCTAssertThrowsError(try JSONValue.parse(#"{"a": 1"#)) { XCTAssertEqual($0 as? JSONParseError, .unexpectedEnd) }
        XCTAssertThrowsError(try JSONValue.parse(#"{"a": 1} x"#)) {
            XCTAssertEqual($0 as? JSONParseError, .trailingData(offset: 9))
        }
        XCTAssertThrowsError(try JSONValue.parse("[01.]"))
        XCTAssertThrowsError(try JSONValue.parse("\"raw\ncontrol\""))
        XCTAssertThrowsError(try JSONValue.parse("[tru]"))
        XCTAssertThrowsError(try JSONValue.parse(String(repeating: "[", count: 1000)))
    }

    func testIntegerOverflowFallsBackToDouble() throws {
        XCTAssertEqual(try JSONValue.parse("123456789012345678901234567890"), .double(1.2345678901234568e29))
    }
}
