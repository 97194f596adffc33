import Foundation
import XCTest
import GGUF

/// Opens the real default model (SmolLM2-135M-Instruct, Q4_1) when it is present.
final class ModelFileTests: XCTestCase {
    /// `$PERISCOPE_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf`, PERISCOPE_HOME defaulting to `~/.cache/periscope`.
    static var modelPath: String {
        let home = ProcessInfo.processInfo.environment["PERISCOPE_HOME"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/periscope")
        return (home as NSString).appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    func openModel() throws -> GGUFFile {
        let path = Self.modelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("default model not found at \(path); `make model` fetches it")
        }
        return try GGUFFile(path: path)
    }

    func testArchitectureMetadata() throws {
        let file = try openModel()
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.metadata["general.architecture"]?.string, "llama")
        XCTAssertEqual(file.metadata["llama.block_count"]?.int, 30)
        XCTAssertEqual(file.metadata["llama.embedding_length"]?.int, 576)
        XCTAssertEqual(file.metadata["llama.feed_forward_length"]?.int, 1536)
        XCTAssertEqual(file.metadata["llama.attention.head_count"]?.int, 9)
        XCTAssertEqual(file.metadata["llama.attention.head_count_kv"]?.int, 3)
        XCTAssertEqual(file.metadata["llama.rope.freq_base"]?.float, 100000)
        XCTAssertEqual(file.metadata["tokenizer.ggml.model"]?.string, "gpt2")
        XCTAssertEqual(file.metadata["tokenizer.ggml.pre"]?.string, "smollm")
        let tokens = try XCTUnwrap(file.metadata["tokenizer.ggml.tokens"]?.stringArray)
        XCTAssertEqual(tokens.count, 49152)
        XCTAssertEqual(file.metadataKeys.count, file.metadata.count)
        XCTAssertEqual(file.metadataKeys.first, "general.architecture")
    }

    func testTensorDescriptors() throws {
        let file = try openModel()
        let embed = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embed.dims, [576, 49152])
        XCTAssertEqual(embed.type, .q8_0)
        XCTAssertEqual(embed.rowLength, 576)
        XCTAssertEqual(embed.rowCount, 49152)
        XCTAssertEqual(embed.byteCount, 49152 * 576 / 32 * 34)
        let q = try XCTUnwrap(file.tensor(named: "blk.0.attn_q.weight"))
        XCTAssertEqual(q.type, .q4_1)
        XCTAssertEqual(q.dims, [576, 576])
        let norm = try XCTUnwrap(file.tensor(named: "blk.29.ffn_norm.weight"))
        XCTAssertEqual(norm.type, .f32)
        XCTAssertEqual(norm.dims, [576])
        XCTAssertNil(file.tensor(named: "blk.30.ffn_norm.weight"))
        // 30 blocks × 9 tensors + token_embd + output_norm (output tied to the embedding).
        XCTAssertEqual(file.tensors.count, 30 * 9 + 2)
        for t in file.tensors {
            XCTAssertEqual(t.offset % file.alignment, 0, t.name)
            XCTAssertLessThanOrEqual(t.offset + t.byteCount, file.fileSize, t.name)
            XCTAssertTrue(t.type.isSupported, t.name)
        }
    }

    func testHeaderParsesQuickly() throws {
        _ = try openModel()
        let start = Date()
        let file = try GGUFFile(path: Self.modelPath)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(file.metadata["tokenizer.ggml.merges"]?.array?.isEmpty, false)
        // The header holds 49152 tokens, ~48900 merges and the token types; budget 100 ms
        // in release builds, generously more in debug builds.
        #if DEBUG
        XCTAssertLessThan(elapsed, 2.0)
        #else
        XCTAssertLessThan(elapsed, 0.1)
        #endif
    }

    func testDequantisedNormIsPlausible() throws {
        let file = try openModel()
        let norm = try XCTUnwrap(file.tensor(named: "output_norm.weight"))
        let values = try file.dequantize(norm)
        XCTAssertEqual(values.count, 576)
        XCTAssertTrue(values.allSatisfy { $0.isFinite })
        let embed = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        var row = [Float](repeating: .nan, count: 576 * 2)
        try row.withUnsafeMutableBufferPointer { try file.dequantizeRows(embed, rows: 100..<102, into: $0.baseAddress!) }
        XCTAssertTrue(row.allSatisfy { $0.isFinite && abs($0) < 10 })
    }
}

// MARK: - Load-time throughput

extension ModelFileTests {
    /// Dequantises every tensor of the model; reports the time (release builds are fast,
    /// the bound here only catches pathological slowness).
    func testDequantiseWholeModel() throws {
        let file = try openModel()
        let start = Date()
        var total = 0
        var checksum: Double = 0
        for t in file.tensors {
            let values = try file.dequantize(t)
            total += values.count
            checksum += Double(values[values.count / 2])
        }
        let elapsed = Date().timeIntervalSince(start)
        print("dequantised \(total) values in \(String(format: "%.3f", elapsed)) s (\(String(format: "%.0f", Double(total) / elapsed / 1e6)) M values/s)")
        XCTAssertEqual(total, 134_515_008)
        XCTAssertTrue(checksum.isFinite)
        #if !DEBUG
        XCTAssertLessThan(elapsed, 10)
        #endif
    }
}
