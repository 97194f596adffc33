import Foundation
import FuzzTargets
import XCTest

/// Each fuzz harness's entry function (the one libFuzzer calls in `make fuzz`) over seeds made
/// from the test fixtures, the committed regression inputs (Tests/FuzzRegressions/<target>/) and a
/// few hundred mutations of them. The mutations come from a fixed seed, so a failure repeats. A
/// harness traps when the code under test breaks a promise (a round trip, a bound), which fails
/// the run; the counts check that the inputs reach past the first check into the code under test.
final class FuzzSmokeTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let mutationsPerTarget = 1000

    struct Counts {
        var seedsAccepted = 0
        var seedsRefused = 0
        var mutantsAccepted = 0
        var mutantsRefused = 0
    }

    func smoke(_ target: FuzzTarget, seeds: [[UInt8]], maxLength: Int = 8192) -> Counts {
        let all = seeds + regressionInputs(target)
        XCTAssertFalse(all.isEmpty, "\(target.rawValue) has no seeds")
        var counts = Counts()
        for input in all {
            if target(input) == .accepted { counts.seedsAccepted += 1 } else { counts.seedsRefused += 1 }
        }
        var random = SplitMix(seed: UInt64(target.rawValue.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        for _ in 0..<Self.mutationsPerTarget {
            let input = mutate(all, &random, maxLength: maxLength)
            if target(input) == .accepted { counts.mutantsAccepted += 1 } else { counts.mutantsRefused += 1 }
        }
        return counts
    }

    func regressionInputs(_ target: FuzzTarget) -> [[UInt8]] {
        let dir = Self.root.appendingPathComponent("Tests/FuzzRegressions/\(target.rawValue)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().compactMap { try? [UInt8](Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    // MARK: - The harnesses

    func testGGUF() throws {
        let dirs = ["Tests/GGUFTests/Fixtures", "Tests/TransformerTests/Fixtures"]
        var files: [[UInt8]] = []
        for dir in dirs {
            let base = Self.root.appendingPathComponent(dir)
            let found = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            for name in found.sorted() where name.hasSuffix(".gguf") {
                files.append(try [UInt8](Data(contentsOf: base.appendingPathComponent(name))))
            }
        }
        XCTAssertGreaterThanOrEqual(files.count, 8, "the GGUF fixtures are missing (make fixtures)")
        let maxLength = 65536
        let counts = smoke(.gguf, seeds: files.map { Array($0.prefix(maxLength)) }, maxLength: maxLength)
        // Every fixture that fits whole opens; mutated files are refused often but not always.
        XCTAssertGreaterThanOrEqual(counts.seedsAccepted, files.filter { $0.count <= maxLength }.count)
        XCTAssertGreaterThan(counts.mutantsAccepted, 0)
        XCTAssertGreaterThan(counts.mutantsRefused, 0)
    }

    func testWire() {
        func message(_ type: String, _ content: String) -> [UInt8] {
            let header = #"{"msg_id": "id-\#(type)", "session": "s", "username": "u", "date": "2026-01-01T00:00:00Z", "msg_type": "\#(type)", "version": "5.3"}"#
            return Array(["ident", "<IDS|MSG>", "", header, "{}", "{}", content].joined(separator: "\n--\n").utf8)
        }
        let seeds = [
            message("execute_request", #"{"code": "run \"hi\"", "silent": false}"#),
            message("kernel_info_request", "{}"),
            message("history_request", #"{"hist_access_type": "tail", "n": 3}"#),
            message("complete_request", #"{"code": "le", "cursor_pos": 2}"#),
            message("comm_info_request", #"{"target_name": null}"#),
            Array(#"{"a": [1, 2.5, -3e-7, true, null, "\u00e9\n"], "b": {}}"#.utf8),
        ]
        let counts = smoke(.wire, seeds: seeds)
        XCTAssertEqual(counts.seedsAccepted, seeds.count + regressionInputs(.wire).count)
        XCTAssertGreaterThan(counts.mutantsAccepted, 0)
        XCTAssertGreaterThan(counts.mutantsRefused, 0)
    }

    func testLanguage() throws {
        var cells: [String] = []
        var notebookSources: [String] = []
        let examples = Self.root.appendingPathComponent("examples")
        for name in try FileManager.default.contentsOfDirectory(atPath: examples.path).sorted() where name.hasSuffix(".ipynb") {
            let notebook = try JSONSerialization.jsonObject(with: Data(contentsOf: examples.appendingPathComponent(name))) as? [String: Any]
            var own: [String] = []
            for cell in notebook?["cells"] as? [[String: Any]] ?? [] where cell["cell_type"] as? String == "code" {
                let source = cell["source"]
                own.append((source as? [String])?.joined() ?? source as? String ?? "")
            }
            cells += own
            notebookSources.append(own.joined(separator: "\n"))
        }
        XCTAssertGreaterThan(cells.count, 20, "the example notebooks' code cells")
        // Each notebook whole (the way the language server reads one) and each cell alone.
        let notebooks = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".ipynb") }.count
        let counts = smoke(.language, seeds: notebookSources.map { Array($0.utf8) } + cells.map { Array($0.utf8) })
        // Every notebook checks clean; mutated cells mostly do not.
        XCTAssertGreaterThanOrEqual(counts.seedsAccepted, notebooks)
        XCTAssertGreaterThan(counts.mutantsRefused, Self.mutationsPerTarget / 4)
    }

    func testTokenizer() throws {
        let home = ProcessInfo.processInfo.environment["PERISCOPE_HOME"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/periscope")
        let bpe = (home as NSString).appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: bpe) else { throw XCTSkip("the default model is not cached (make model)") }
        let spm = Self.root.appendingPathComponent("Tests/TransformerTests/Fixtures/spm-tiny.gguf").path
        try loadFuzzTokenizers(paths: [bpe, spm])
        let corpus = try String(contentsOf: Self.root.appendingPathComponent("Tests/TransformerTests/Fixtures/tokenizer_corpus.jsonl"), encoding: .utf8)
        var seeds: [[UInt8]] = []
        // Split at "\n" only: the texts hold other line separators.
        for line in corpus.split(separator: "\n", omittingEmptySubsequences: true) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let text = Array((object?["text"] as? String ?? "").utf8)
            seeds.append([0x00] + text)  // BPE, plain: must decode to itself
            seeds.append([0x07] + text)  // SentencePiece, special tokens added and parsed
        }
        XCTAssertGreaterThan(seeds.count, 1000)
        let counts = smoke(.tokenizer, seeds: seeds, maxLength: 4096)
        XCTAssertEqual(counts.seedsAccepted, seeds.count + regressionInputs(.tokenizer).count)
        XCTAssertGreaterThan(counts.mutantsAccepted, Self.mutationsPerTarget / 2)
    }

    func testCSV() {
        // Two data sets and two files that are not: a short row, no text or label column.
        let seeds = ["text,label\n\"I loved it\",pos\nI hated it,neg\n", "Label,TEXT\r\npos,\"a \"\"quoted\"\"\nline\"\r\nneg,b\r\n",
                     "text,label,extra\nx,y\n", "sentence,score\n1,2\n"].map { Array($0.utf8) }
        let counts = smoke(.csv, seeds: seeds)
        XCTAssertEqual(counts.seedsAccepted, 2)
        XCTAssertEqual(counts.seedsRefused, 2 + regressionInputs(.csv).count)
        XCTAssertGreaterThan(counts.mutantsAccepted, 0)
        XCTAssertGreaterThan(counts.mutantsRefused, 0)
    }

    func testWriters() {
        let one: [UInt8] = [0x00, 0x00, 0x80, 0x3f]
        let seeds = [[5, 3, 6] + one + one + one + [0x00, 0x00, 0xc0, 0x7f], [2, 2, 3, 1] + Array(0..<24)]
        let counts = smoke(.writers, seeds: seeds)
        XCTAssertEqual(counts.seedsAccepted, seeds.count + regressionInputs(.writers).count)
        XCTAssertGreaterThan(counts.mutantsAccepted, 0)
        XCTAssertGreaterThan(counts.mutantsRefused, 0)
    }
}

// MARK: - Mutations

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}

/// One to four of libFuzzer's kinds of change to a seed: flip a bit, put an interesting byte,
/// insert or erase bytes, copy a run inside the input, splice in part of another seed.
func mutate(_ seeds: [[UInt8]], _ random: inout SplitMix, maxLength: Int) -> [UInt8] {
    let interesting: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x27, 0x5b, 0x5d, 0x0a, 0x5c, 0x2e, 0x23, 0x3d, 0xe2]
    var data = seeds[random.below(seeds.count)]
    for _ in 0...random.below(4) {
        switch random.below(7) {
        case 0 where !data.isEmpty:
            data[random.below(data.count)] ^= 1 << UInt8(random.below(8))
        case 1 where !data.isEmpty:
            data[random.below(data.count)] = interesting[random.below(interesting.count)]
        case 2:
            let bytes = (0..<(1 + random.below(8))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            data.insert(contentsOf: bytes, at: random.below(data.count + 1))
        case 3 where !data.isEmpty:
            let start = random.below(data.count)
            data.removeSubrange(start..<min(data.count, start + 1 + random.below(16)))
        case 4 where !data.isEmpty:
            let start = random.below(data.count)
            let run = data[start..<min(data.count, start + 1 + random.below(32))]
            data.insert(contentsOf: run, at: random.below(data.count + 1))
        case 5:
            let other = seeds[random.below(seeds.count)]
            guard !other.isEmpty else { break }
            let start = random.below(other.count)
            let piece = other[start..<min(other.count, start + 1 + random.below(64))]
            data.replaceSubrange(random.below(data.count + 1)..<data.count, with: piece)
        default:
            if !data.isEmpty { data.removeLast(random.below(data.count)) }
        }
    }
    return Array(data.prefix(maxLength))
}
