import Foundation
import XCTest
import GGUF

/// Every metadata value type, in v3 and v2 files written by the Python gguf package.
final class MetadataTests: XCTestCase {
    /// The values scripts/make_gguf_fixtures.py writes into metadata.gguf, in order.
    let expected: [(String, GGUFValue)] = [
        ("general.architecture", .string("test")),
        ("test.uint8", .uint8(200)),
        ("test.int8", .int8(-100)),
        ("test.uint16", .uint16(60000)),
        ("test.int16", .int16(-30000)),
        ("test.uint32", .uint32(4_000_000_000)),
        ("test.int32", .int32(-2_000_000_000)),
        ("test.uint64", .uint64(1 << 63 + 5)),
        ("test.int64", .int64(-(1 << 62))),
        ("test.float32", .float32(3.25)),
        ("test.float64", .float64(-1e300)),
        ("test.bool.true", .bool(true)),
        ("test.bool.false", .bool(false)),
        ("test.string", .string("héllo ▁wörld 🙂")),
        ("test.string.empty", .string("")),
        ("test.array.int32", .array([.int32(1), .int32(-2), .int32(3)])),
        ("test.array.float32", .array([.float32(0.5), .float32(-1.5)])),
        ("test.array.string", .array([.string("a"), .string(""), .string("ü")])),
        ("test.array.bool", .array([.bool(true), .bool(false), .bool(true)])),
        ("test.array.uint64", .array([.uint64(1), .uint64(.max)])),
        ("test.array.int16", .array([.int16(-1), .int16(7)])),
        ("test.array.nested", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])])),
        ("general.alignment", .uint32(64)),
    ]

    func check(_ name: String, version: UInt32) throws {
        let file = try GGUFFile(path: try Fixture.path(name))
        XCTAssertEqual(file.version, version)
        XCTAssertEqual(file.metadataKeys, expected.map(\.0))
        for (key, value) in expected {
            XCTAssertEqual(file.metadata[key], value, key)
        }
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.tensors.map(\.name), ["t", "u"])
        XCTAssertEqual(file.tensors.map(\.dims), [[4], [3, 2]])
        for t in file.tensors { XCTAssertEqual(t.offset % 64, 0) }
        XCTAssertEqual(try file.dequantize(file.tensors[0]), [1, 2, 3, 4])
        XCTAssertEqual(try file.dequantize(file.tensors[1]), [0, 1, 2, 3, 4, 5])
        let raw = file.bytes(of: file.tensors[0])
        XCTAssertEqual(raw.count, 16)
        XCTAssertEqual(raw.loadUnaligned(fromByteOffset: 4, as: Float.self), 2)
    }

    func testVersion3() throws { try check("metadata.gguf", version: 3) }
    func testVersion2() throws { try check("metadata_v2.gguf", version: 2) }

    func testAccessors() throws {
        let m = try GGUFFile(path: try Fixture.path("metadata.gguf")).metadata
        XCTAssertEqual(m["test.uint8"]?.int, 200)
        XCTAssertEqual(m["test.int64"]?.int, -(1 << 62))
        XCTAssertEqual(m["test.uint64"]?.int, nil, "2^63+5 does not fit an Int")
        XCTAssertEqual(m["test.uint64"]?.float, Double(UInt64(1) << 63 + 5))
        XCTAssertEqual(m["test.float32"]?.float, 3.25)
        XCTAssertEqual(m["test.int16"]?.float, -30000)
        XCTAssertNil(m["test.string"]?.int)
        XCTAssertEqual(m["test.bool.true"]?.bool, true)
        XCTAssertNil(m["test.uint8"]?.bool)
        XCTAssertEqual(m["test.array.string"]?.stringArray, ["a", "", "ü"])
        XCTAssertNil(m["test.array.int32"]?.stringArray)
        XCTAssertEqual(m["test.array.int32"]?.intArray, [1, -2, 3])
        XCTAssertEqual(m["test.array.int32"]?.floatArray, [1, -2, 3])
        XCTAssertEqual(m["test.array.float32"]?.floatArray, [0.5, -1.5])
        XCTAssertNil(m["test.array.float32"]?.intArray)
        XCTAssertEqual(m["test.array.nested"]?.array?.count, 2)
        XCTAssertNil(m["test.array.nested"]?.intArray)
        XCTAssertNil(m["test.string"]?.array)
    }
}
