import Foundation
import XCTest
import GGUF

/// Every supported tensor type against gguf.quants.dequantize (the Python reference).
final class DequantizationTests: XCTestCase {
    /// The types the synthetic fixture must contain, in file order.
    let expectedTypes: [(String, GGMLType)] = [
        ("f32", .f32), ("f16", .f16), ("bf16", .bf16), ("q4_0", .q4_0), ("q4_1", .q4_1),
        ("q5_0", .q5_0), ("q5_1", .q5_1), ("q8_0", .q8_0), ("q2_k", .q2_K), ("q3_k", .q3_K),
        ("q4_k", .q4_K), ("q5_k", .q5_K), ("q6_k", .q6_K), ("q8_0.3d", .q8_0),
    ]

    func testEverySupportedTypeMatchesReference() throws {
        let file = try GGUFFile(path: try Fixture.path("all_types.gguf"))
        let expected = try Fixture.floats("all_types.f32")
        XCTAssertEqual(file.tensors.map(\.name), expectedTypes.map(\.0))
        XCTAssertEqual(file.tensors.map(\.type), expectedTypes.map(\.1))
        // Every type the reader claims to support is exercised here.
        XCTAssertEqual(Set(file.tensors.map(\.type)), Set(GGMLType.allCases.filter(\.isSupported)))
        var start = 0
        for tensor in file.tensors {
            let values = try file.dequantize(tensor)
            assertMatches(values, expected[start..<min(start + tensor.elementCount, expected.count)], tensor.name)
            start += tensor.elementCount
        }
        XCTAssertEqual(start, expected.count, "reference has values for no other tensors")
    }

    func testThreeDimensionalShape() throws {
        let file = try GGUFFile(path: try Fixture.path("all_types.gguf"))
        let cube = try XCTUnwrap(file.tensor(named: "q8_0.3d"))
        XCTAssertEqual(cube.dims, [64, 2, 3])
        XCTAssertEqual(cube.rowLength, 64)
        XCTAssertEqual(cube.rowCount, 6)
        XCTAssertEqual(cube.elementCount, 384)
        XCTAssertEqual(cube.byteCount, 12 * 34)
    }

    func testRowsMatchWholeTensor() throws {
        let file = try GGUFFile(path: try Fixture.path("all_types.gguf"))
        for tensor in file.tensors {
            let whole = try file.dequantize(tensor)
            let rows = 1..<tensor.rowCount
            var part = [Float](repeating: .nan, count: rows.count * tensor.rowLength)
            try part.withUnsafeMutableBufferPointer { try file.dequantizeRows(tensor, rows: rows, into: $0.baseAddress!) }
            assertMatches(part, whole[tensor.rowLength...], "\(tensor.name) rows 1...")
        }
    }

    func testRowsOutOfRangeThrow() throws {
        let path = try Fixture.path("all_types.gguf")
        let file = try GGUFFile(path: path)
        let t = try XCTUnwrap(file.tensor(named: "q4_k"))
        var out = [Float](repeating: 0, count: 4 * t.rowLength)
        XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer {
            try file.dequantizeRows(t, rows: 2..<4, into: $0.baseAddress!)
        }) { error in
            guard case GGUFError.rowsOutOfRange(_, _, "q4_k", 2..<4, 3) = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    func testDescriptorFromAnotherFileIsRejected() throws {
        let small = try GGUFFile(path: try Fixture.path("metadata.gguf"))
        let big = try GGUFFile(path: try Fixture.path("all_types.gguf"))
        let foreign = try XCTUnwrap(big.tensor(named: "q6_k"))
        XCTAssertThrowsError(try small.dequantize(foreign)) { error in
            guard case GGUFError.tensorPastEnd(_, _, "q6_k", _, _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(small.bytes(of: foreign).count, 0)
    }

    func testRealModelSlicesMatchReference() throws {
        let file = try GGUFFile(path: try Fixture.path("model_slices.gguf"))
        let expected = try Fixture.floats("model_slices.f32")
        XCTAssertEqual(file.tensors.map(\.type), [.q4_1, .q8_0, .f32])
        var start = 0
        for tensor in file.tensors {
            assertMatches(try file.dequantize(tensor), expected[start..<start + tensor.elementCount], tensor.name)
            start += tensor.elementCount
        }
        XCTAssertEqual(start, expected.count)
    }

    func testHalfConversionOfEveryBitPattern() {
        // Every binary16 value against Swift's own Float16 conversion.
        #if arch(x86_64) || arch(arm64)
        for bits in 0...UInt16.max {
            let mine = halfToFloat(bits)
            let swift = Float(Float16(bitPattern: bits))
            if mine.bitPattern != swift.bitPattern && !(mine.isNaN && swift.isNaN) {
                return XCTFail("half 0x\(String(bits, radix: 16)): \(mine) vs \(swift)")
            }
        }
        #endif
    }

    func testQ4_1ByHand() {
        // d = 0.5, m = -1: value = 0.5 q - 1; nibbles 0..15 low, 15..0 high.
        var block = [UInt8](repeating: 0, count: 20)
        block[0] = 0x00; block[1] = 0x38  // 0.5
        block[2] = 0x00; block[3] = 0xBC  // -1.0
        for j in 0..<16 { block[4 + j] = UInt8(j) | UInt8(15 - j) << 4 }
        var out = [Float](repeating: .nan, count: 32)
        block.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { GGUF.dequantize(.q4_1, from: raw.baseAddress!, to: $0.baseAddress!, count: 32) }
        }
        XCTAssertEqual(Array(out[0..<16]), (0..<16).map { 0.5 * Float($0) - 1 })
        XCTAssertEqual(Array(out[16..<32]), (0..<16).map { 0.5 * Float(15 - $0) - 1 })
    }

    func testUnsupportedTypeNamesItself() throws {
        XCTAssertFalse(GGMLType.iq2_xxs.isSupported)
        XCTAssertEqual(GGMLType.q4_K.name, "Q4_K")
        XCTAssertEqual(GGMLType.q6_K.bytesPerBlock, 210)
        XCTAssertEqual(GGMLType.q5_K.bytesPerBlock, 176)
        XCTAssertEqual(GGMLType.bf16.rawValue, 30)
    }
}
