import Foundation
import XCTest
import GGUF

/// The writer: byte-identical to gguf-py's GGUFWriter, readable by our reader and by
/// gguf-py's GGUFReader.
final class GGUFWriterTests: XCTestCase {
    /// The control vector that scripts/make_gguf_fixtures.py writes as writer_golden.gguf.
    func goldenControlVector() -> GGUFWriter {
        var w = GGUFWriter(architecture: "controlvector")
        w.add("controlvector.model_hint", .string("llama"))
        w.add("controlvector.layer_count", .uint32(2))
        w.add("test.scale", .float32(0.75))
        w.add("test.labels", .array([.string("love"), .string("hate")]))
        for layer in 1...2 {
            w.addTensor(name: "direction.\(layer)", dims: [10],
                        values: (0..<10).map { (Float($0) - 4.5) * Float(layer) / 8 })
        }
        return w
    }

    func testMatchesPythonWriterByteForByte() throws {
        let ours = try goldenControlVector().encoded()
        let python = try Fixture.bytes("writer_golden.gguf")
        XCTAssertEqual(ours.count, python.count)
        let firstDifference = zip(ours, python).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        XCTAssertNil(firstDifference, "first differing byte at offset \(firstDifference ?? -1)")
    }

    /// Every value type, nested and empty arrays, several tensors, read back by GGUFFile.
    func richWriter() -> GGUFWriter {
        var w = GGUFWriter(architecture: "test")
        let values: [(String, GGUFValue)] = [
            ("a.u8", .uint8(255)), ("a.i8", .int8(-128)), ("a.u16", .uint16(65535)), ("a.i16", .int16(-32768)),
            ("a.u32", .uint32(.max)), ("a.i32", .int32(.min)), ("a.u64", .uint64(.max)), ("a.i64", .int64(.min)),
            ("a.f32", .float32(-0.1)), ("a.f64", .float64(.pi)), ("a.bool", .bool(true)),
            ("a.string", .string("naïve ☃ \u{0}end")), ("a.empty", .array([])),
            ("a.strings", .array([.string("x"), .string("yz")])),
            ("a.floats", .array([.float32(1.5), .float32(.infinity)])),
            ("a.nested", .array([.array([.string("p")]), .array([.string("q"), .string("r")])])),
        ]
        for (k, v) in values { w.add(k, v) }
        w.addTensor(name: "direction.0", dims: [3], values: [1, -2, 3.5])
        w.addTensor(name: "m", dims: [2, 3], values: [0, 1, 2, 3, 4, 5])
        w.addTensor(name: "big", dims: [11, 1, 1, 2], values: (0..<22).map { Float($0) * 0.25 })
        return w
    }

    func testRoundTripThroughReader() throws {
        let w = richWriter()
        let path = try temporaryDirectory(self).appendingPathComponent("rich.gguf").path
        try w.write(to: path)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.metadataKeys, w.metadataKeys)
        XCTAssertEqual(file.metadata["a.u64"], .uint64(.max))
        XCTAssertEqual(file.metadata["a.i32"], .int32(.min))
        XCTAssertEqual(file.metadata["a.string"], .string("naïve ☃ \u{0}end"))
        XCTAssertEqual(file.metadata["a.empty"], .array([]))
        XCTAssertEqual(file.metadata["a.nested"], .array([.array([.string("p")]), .array([.string("q"), .string("r")])]))
        XCTAssertEqual(file.metadata["a.floats"]?.floatArray, [1.5, .infinity])
        XCTAssertEqual(file.metadata["a.f32"], .float32(-0.1))
        XCTAssertEqual(file.tensors.map(\.name), ["direction.0", "m", "big"])
        XCTAssertEqual(file.tensors.map(\.dims), [[3], [2, 3], [11, 1, 1, 2]])
        XCTAssertEqual(try file.dequantize(file.tensors[0]), [1, -2, 3.5])
        XCTAssertEqual(try file.dequantize(file.tensors[1]), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try file.dequantize(file.tensors[2]), (0..<22).map { Float($0) * 0.25 })
    }

    func testCustomAlignmentIsRecorded() throws {
        var w = richWriter()
        w.alignment = 64
        let path = try temporaryDirectory(self).appendingPathComponent("a64.gguf").path
        try w.write(to: path)
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.metadata["general.alignment"], .uint32(64))
        XCTAssertTrue(file.tensors.allSatisfy { $0.offset % 64 == 0 })
        XCTAssertEqual(try file.dequantize(file.tensors[1]), [0, 1, 2, 3, 4, 5])
    }

    func testReplacingAKeyKeepsItsPlace() {
        var w = GGUFWriter(architecture: "x")
        w.add("k1", .int32(1))
        w.add("k2", .int32(2))
        w.add("k1", .string("again"))
        XCTAssertEqual(w.metadataKeys, ["general.architecture", "k1", "k2"])
    }

    func testInvalidInputsAreReported() {
        func assertThrows(_ expected: GGUFError, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual($0 as? GGUFError, expected, line: line) }
        }
        var mixed = GGUFWriter()
        mixed.add("bad", .array([.int32(1), .string("two")]))
        assertThrows(.mixedArray(path: "out.gguf", key: "bad")) { _ = try mixed.encoded(path: "out.gguf") }
        var shape = GGUFWriter()
        shape.addTensor(name: "t", dims: [2, 2], values: [1, 2, 3])
        assertThrows(.valueCount(path: "<memory>", tensor: "t", dims: [2, 2], count: 3)) { _ = try shape.encoded() }
        var empty = GGUFWriter()
        empty.addTensor(name: "e", dims: [0], values: [])
        assertThrows(.badDims(path: "<memory>", tensor: "e", dims: [0], maximum: 4)) { _ = try empty.encoded() }
        var twice = GGUFWriter()
        twice.addTensor(name: "t", dims: [1], values: [1])
        twice.addTensor(name: "t", dims: [1], values: [2])
        assertThrows(.tensorAddedTwice(path: "<memory>", tensor: "t")) { _ = try twice.encoded() }
        var odd = GGUFWriter()
        odd.alignment = 48
        assertThrows(.writerAlignment(path: "<memory>", alignment: 48)) { _ = try odd.encoded() }
        XCTAssertThrowsError(try GGUFWriter().write(to: "/nonexistent-dir-\(UUID().uuidString)/x.gguf")) { error in
            guard case GGUFError.writeFailed = error else { return XCTFail("\(error)") }
        }
    }

    /// Reads our output with gguf-py's GGUFReader. Needs a Python with `gguf` and numpy:
    /// set PERISCOPE_REF_PYTHON to its interpreter (e.g. the reference venv's bin/python).
    func testPythonReaderReadsOurFile() throws {
        guard let python = ProcessInfo.processInfo.environment["PERISCOPE_REF_PYTHON"] else {
            throw XCTSkip("set PERISCOPE_REF_PYTHON to a Python with the gguf package to run this check")
        }
        let path = try temporaryDirectory(self).appendingPathComponent("rich.gguf").path
        try richWriter().write(to: path)
        let script = """
        import json, sys, gguf
        r = gguf.GGUFReader(sys.argv[1])
        def clean(v):  # JSON has no infinities; spell them as strings
            if isinstance(v, list): return [clean(x) for x in v]
            if isinstance(v, float) and (v != v or abs(v) == float("inf")): return str(v)
            return v
        out = {"fields": {}, "tensors": []}
        for k, f in r.fields.items():
            if k.startswith("GGUF."): continue
            out["fields"][k] = [[int(t) for t in f.types], clean(f.contents())]
        for t in r.tensors:
            out["tensors"].append([t.name, [int(d) for d in t.shape], int(t.tensor_type), [float(x) for x in t.data.ravel()]])
        print(json.dumps(out))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let fields = try XCTUnwrap(json["fields"] as? [String: [Any]])
        XCTAssertEqual(Array(fields.keys).sorted(), richWriter().metadataKeys.sorted())
        func contents(_ key: String) -> Any? { fields[key]?[1] }
        func types(_ key: String) -> [Int]? { fields[key]?[0] as? [Int] }
        XCTAssertEqual(contents("general.architecture") as? String, "test")
        XCTAssertEqual(types("a.u8"), [0]); XCTAssertEqual(contents("a.u8") as? Int, 255)
        XCTAssertEqual(types("a.i16"), [3]); XCTAssertEqual(contents("a.i16") as? Int, -32768)
        XCTAssertEqual(types("a.u64"), [10]); XCTAssertEqual((contents("a.u64") as? NSNumber)?.uint64Value, .max)
        XCTAssertEqual(types("a.i64"), [11]); XCTAssertEqual(contents("a.i64") as? Int, Int(Int64.min))
        XCTAssertEqual(types("a.f64"), [12]); XCTAssertEqual(contents("a.f64") as? Double, .pi)
        XCTAssertEqual(types("a.bool"), [7]); XCTAssertEqual(contents("a.bool") as? Bool, true)
        XCTAssertEqual(contents("a.string") as? String, "naïve ☃ \u{0}end")
        XCTAssertEqual(types("a.strings"), [9, 8]); XCTAssertEqual(contents("a.strings") as? [String], ["x", "yz"])
        XCTAssertEqual(types("a.nested"), [9, 9, 8])
        XCTAssertEqual(types("a.floats"), [9, 6])
        XCTAssertEqual((contents("a.floats") as? [Any])?.last as? String, "inf")
        let tensors = try XCTUnwrap(json["tensors"] as? [[Any]])
        XCTAssertEqual(tensors.map { $0[0] as? String }, ["direction.0", "m", "big"])
        XCTAssertEqual(tensors.map { $0[1] as? [Int] }, [[3], [2, 3], [11, 1, 1, 2]])
        XCTAssertEqual(tensors.map { $0[2] as? Int }, [0, 0, 0])
        XCTAssertEqual(tensors[0][3] as? [Double], [1, -2, 3.5])
        XCTAssertEqual(tensors[2][3] as? [Double], (0..<22).map { Double($0) * 0.25 })
    }
}
