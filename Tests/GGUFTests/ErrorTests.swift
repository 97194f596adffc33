import Foundation
import XCTest
import GGUF

/// Malformed files: each must fail with a `GGUFError` naming the path and an offset.
final class ErrorTests: XCTestCase {
    // MARK: - Helpers

    /// Writes `bytes` to a fresh temporary file and returns its path.
    func write(_ bytes: [UInt8], _ name: String = "broken.gguf") throws -> String {
        let url = try temporaryDirectory(self).appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Opens `path` expecting a `GGUFError`; checks the message names the path and an offset.
    func openError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> GGUFError? {
        do {
            _ = try GGUFFile(path: path)
            XCTFail("opening \(path) should fail", file: file, line: line)
            return nil
        } catch let error as GGUFError {
            assertActionable(error, path: path, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
            return nil
        }
    }

    func assertActionable(_ error: GGUFError, path: String, file: StaticString = #filePath, line: UInt = #line) {
        let text = error.description
        XCTAssertTrue(text.contains(path), "no path in: \(text)", file: file, line: line)
        XCTAssertTrue(text.contains("offset "), "no offset in: \(text)", file: file, line: line)
    }

    /// Offset of the tensor-info record for `name` (its u64 name length) in `bytes`.
    func tensorInfoOffset(_ name: String, in bytes: [UInt8]) throws -> Int {
        let needle = withUnsafeBytes(of: UInt64(name.utf8.count).littleEndian, Array.init) + Array(name.utf8)
        // Tensor infos follow the metadata, so take the last occurrence.
        let hit = (0...(bytes.count - needle.count)).last { Array(bytes[$0..<$0 + needle.count]) == needle }
        return try XCTUnwrap(hit, "tensor \(name) not found")
    }

    /// Offsets of a tensor info's type and relative-offset fields.
    func tensorFields(_ name: String, dims: Int, in bytes: [UInt8]) throws -> (type: Int, offset: Int) {
        let start = try tensorInfoOffset(name, in: bytes)
        let type = start + 8 + name.utf8.count + 4 + 8 * dims
        return (type, type + 4)
    }

    func patch<T: FixedWidthInteger>(_ bytes: inout [UInt8], at offset: Int, _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    // MARK: - Cases

    func testFileNotFound() {
        let path = "/nonexistent-\(UUID().uuidString)/model.gguf"
        XCTAssertThrowsError(try GGUFFile(path: path)) { error in
            XCTAssertEqual(error as? GGUFError, .fileNotFound(path: path))
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    func testDirectoryIsNotReadable() throws {
        let dir = try temporaryDirectory(self).path
        guard case .notReadable = openError(dir) else { return XCTFail("expected notReadable") }
    }

    func testEmptyFile() throws {
        let path = try write([])
        XCTAssertEqual(openError(path), .truncated(path: path, offset: 0, needed: 4, fileSize: 0))
    }

    func testBadMagic() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        bytes[0...3] = [0x47, 0x47, 0x4D, 0x4C] // "GGML"
        let path = try write(bytes)
        XCTAssertEqual(openError(path), .badMagic(path: path, offset: 0, found: Array("GGML".utf8)))
        XCTAssertTrue(GGUFError.badMagic(path: path, offset: 0, found: Array("GGML".utf8)).description.contains("not a GGUF file"))
        let text = try write(Array("hello world\n".utf8), "notes.txt")
        guard case .badMagic = openError(text) else { return XCTFail("expected badMagic") }
        let tiny = try write([0x7F], "tiny")
        guard case .badMagic = openError(tiny) else { return XCTFail("expected badMagic for 1 byte") }
    }

    func testUnsupportedVersion() throws {
        for version: UInt32 in [1, 4, 0xFFFF_FFFF] {
            var bytes = try Fixture.bytes("metadata.gguf")
            patch(&bytes, at: 4, version)
            let path = try write(bytes)
            XCTAssertEqual(openError(path), .unsupportedVersion(path: path, offset: 4, version: version))
        }
        let bigEndian = GGUFError.unsupportedVersion(path: "m.gguf", offset: 4, version: UInt32(3).byteSwapped)
        XCTAssertTrue(bigEndian.description.contains("big-endian"), bigEndian.description)
        XCTAssertFalse(GGUFError.unsupportedVersion(path: "m.gguf", offset: 4, version: 1).description.contains("big-endian"))
    }

    func testTruncatedAtEveryOffset() throws {
        let bytes = try Fixture.bytes("metadata.gguf")
        let whole = try GGUFFile(path: try Fixture.path("metadata.gguf"))
        var kinds = [String: Int]()
        // Python pads the last tensor to the alignment; cuts in that padding leave a valid file.
        let end = whole.tensors.map { $0.offset + $0.byteCount }.max() ?? bytes.count
        let path = try write(Array(bytes[0..<end]))
        XCTAssertNoThrow(try GGUFFile(path: path))
        // Shrink one file a byte at a time (writing a file per cut is slow on some file systems).
        for cut in stride(from: end - 1, through: 0, by: -1) {
            XCTAssertEqual(truncate(path, off_t(cut)), 0)
            guard let error = openError(path) else { return }
            switch error {
            case .truncated(_, let offset, _, let size):
                XCTAssertEqual(size, cut)
                XCTAssertLessThanOrEqual(offset, cut)
                XCTAssertLessThan(cut, whole.dataOffset, "header cut at \(cut) reported as truncated")
                kinds["truncated", default: 0] += 1
            case .stringPastEnd(_, let offset, _, let size):
                XCTAssertEqual(size, cut)
                XCTAssertLessThan(offset, cut)
                kinds["string", default: 0] += 1
            case .tensorPastEnd(_, let offset, _, _, let size):
                XCTAssertEqual(size, cut)
                XCTAssertGreaterThanOrEqual(offset, whole.dataOffset)
                kinds["tensor", default: 0] += 1
            default:
                XCTFail("cut at \(cut): unexpected \(error)")
            }
        }
        // All three kinds occur: cuts inside numbers, inside strings, inside tensor data.
        XCTAssertEqual(Set(kinds.keys), ["truncated", "string", "tensor"], "\(kinds)")
    }

    func testUnknownTensorType() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        let fields = try tensorFields("t", dims: 1, in: bytes)
        patch(&bytes, at: fields.type, UInt32(99))
        let path = try write(bytes)
        XCTAssertEqual(openError(path), .unknownTensorType(path: path, offset: fields.type, tensor: "t", code: 99))
    }

    func testUnsupportedTensorTypeFailsOnDequantise() throws {
        // Re-label the Q4_K tensor as IQ2_XXS (same 256-value blocks, fewer bytes).
        var bytes = try Fixture.bytes("all_types.gguf")
        let fields = try tensorFields("q4_k", dims: 2, in: bytes)
        patch(&bytes, at: fields.type, GGMLType.iq2_xxs.rawValue)
        let path = try write(bytes)
        let file = try GGUFFile(path: path)
        let t = try XCTUnwrap(file.tensor(named: "q4_k"))
        XCTAssertEqual(t.type, .iq2_xxs)
        XCTAssertThrowsError(try file.dequantize(t)) { error in
            XCTAssertEqual(error as? GGUFError, .unsupportedTensorType(path: path, offset: t.offset, tensor: "q4_k", type: "IQ2_XXS"))
            assertActionable(error as! GGUFError, path: path)
            XCTAssertTrue("\(error)".contains("Q4_K"), "lists supported types")
        }
    }

    func testTensorPastEndOfFile() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        let fields = try tensorFields("u", dims: 2, in: bytes)
        patch(&bytes, at: fields.offset, UInt64(64 * 1000))
        let path = try write(bytes)
        guard case .tensorPastEnd(_, _, "u", 24, bytes.count) = openError(path) else { return XCTFail("expected tensorPastEnd") }
        // An offset so large that adding it would overflow.
        patch(&bytes, at: fields.offset, UInt64.max - 63)
        let path2 = try write(bytes, "huge.gguf")
        guard case .tensorPastEnd = openError(path2) else { return XCTFail("expected tensorPastEnd") }
    }

    /// Found by FuzzGGUF (Tests/FuzzRegressions/FuzzGGUF/crash-size-overflow-24c4f171): dimensions
    /// each within bounds and an element count that fits, but a size in bytes that does not; it
    /// wrapped (to 0 here) and passed the past-the-end check.
    func testTensorWhoseByteSizeOverflows() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        let fields = try tensorFields("u", dims: 2, in: bytes)
        let dims = fields.type - 16
        patch(&bytes, at: dims, UInt64(1) << 40)
        patch(&bytes, at: dims + 8, UInt64(1) << 22)
        patch(&bytes, at: fields.type, GGMLType.f32.rawValue)
        let path = try write(bytes)
        guard case .tensorTooLarge(path, _, "u", [1 << 40, 1 << 22], "F32") = openError(path) else {
            return XCTFail("expected tensorTooLarge, got \(String(describing: openError(path)))")
        }
        let input = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzRegressions/FuzzGGUF/crash-size-overflow-24c4f171")
        guard case .tensorTooLarge = openError(input.path) else { return XCTFail("the fuzzer's input opens") }
    }

    func testMisalignedTensor() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        let fields = try tensorFields("u", dims: 2, in: bytes)
        patch(&bytes, at: fields.offset, UInt64(65))
        let path = try write(bytes)
        guard case .misalignedOffset(_, _, "u", 64) = openError(path) else { return XCTFail("expected misalignedOffset") }
    }

    func testCorruptStringLength() throws {
        // The first key's length field is at offset 24, right after the header.
        var bytes = try Fixture.bytes("metadata.gguf")
        patch(&bytes, at: 24, UInt64(1) << 40)
        let path = try write(bytes)
        XCTAssertEqual(openError(path), .stringPastEnd(path: path, offset: 24, length: 1 << 40, fileSize: bytes.count))
    }

    func testUnknownMetadataValueType() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        let typeOffset = 24 + 8 + "general.architecture".utf8.count
        patch(&bytes, at: typeOffset, UInt32(77))
        let path = try write(bytes)
        XCTAssertEqual(openError(path), .unknownValueType(path: path, offset: typeOffset, key: "general.architecture", code: 77))
    }

    func testAbsurdCountsFailWithoutAllocating() throws {
        for field in [8, 16] { // tensor count, metadata count
            var bytes = try Fixture.bytes("metadata.gguf")
            patch(&bytes, at: field, UInt64(1) << 60)
            let path = try write(bytes)
            guard case .truncated(_, let offset, _, _) = openError(path) else { return XCTFail("expected truncated") }
            XCTAssertEqual(offset, field)
        }
    }

    func testBadAlignmentValue() throws {
        var bytes = try Fixture.bytes("metadata.gguf")
        let key = Array("general.alignment".utf8)
        let at = try XCTUnwrap((0...(bytes.count - key.count)).first { Array(bytes[$0..<$0 + key.count]) == key })
        patch(&bytes, at: at + key.count + 4, UInt32(48))
        let path = try write(bytes)
        let error = openError(path)
        XCTAssertEqual(error, .badAlignment(path: path, offset: at - 8, found: "uint32(48)"))
        XCTAssertEqual(error?.description, "\(path) has invalid metadata \"general.alignment\" at offset \(at - 8): it must be a UInt32 power of two, found uint32(48).")
    }

    func testEveryErrorDescriptionIsASentenceWithPathAndOffset() {
        let p = "/models/x.gguf"
        let errors: [GGUFError] = [
            .fileNotFound(path: p), .notReadable(path: p, reason: "Permission denied"),
            .badMagic(path: p, offset: 0, found: [0, 1, 2, 3]), .unsupportedVersion(path: p, offset: 4, version: 1),
            .truncated(path: p, offset: 9, needed: 8, fileSize: 12), .stringPastEnd(path: p, offset: 24, length: 99, fileSize: 30),
            .unknownValueType(path: p, offset: 40, key: "k", code: 13), .badAlignment(path: p, offset: 40, found: "uint32(48)"),
            .badBool(path: p, offset: 40, key: "k", value: 2),
            .unknownTensorType(path: p, offset: 80, tensor: "w", code: 99),
            .unsupportedTensorType(path: p, offset: 96, tensor: "w", type: "IQ1_S"),
            .badDimensionCount(path: p, offset: 80, tensor: "w", count: 5, maximum: 4),
            .dimensionTooLarge(path: p, offset: 80, tensor: "w", size: 1 << 50),
            .partialBlock(path: p, offset: 80, tensor: "w", rowLength: 33, type: "Q4_1", blockSize: 32),
            .duplicateName(path: p, offset: 80, name: "w"),
            .misalignedOffset(path: p, offset: 97, tensor: "w", alignment: 32),
            .tensorPastEnd(path: p, offset: 96, tensor: "w", byteCount: 10, fileSize: 100),
            .tensorTooLarge(path: p, offset: 80, tensor: "w", dims: [1 << 40, 1 << 22], type: "F32"),
            .rowsOutOfRange(path: p, offset: 96, tensor: "w", rows: 0..<5, rowCount: 3),
            .writerAlignment(path: p, alignment: 48), .alignmentMismatch(path: p, metadata: "uint32(64)", writer: 32),
            .tensorAddedTwice(path: p, tensor: "t"), .badDims(path: p, tensor: "t", dims: [0], maximum: 4),
            .valueCount(path: p, tensor: "t", dims: [2, 2], count: 3), .mixedArray(path: p, key: "k"),
            .writeFailed(path: p, reason: "disk full"),
        ]
        for e in errors {
            XCTAssertTrue(e.description.contains(p), e.description)
            XCTAssertTrue(e.description.contains("offset"), e.description)
            XCTAssertTrue(e.description.hasSuffix("."), e.description)
        }
    }
}
