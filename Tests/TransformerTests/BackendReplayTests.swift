import Foundation
import XCTest
@testable import Transformer

/// What a model run by a backend keeps of a sequence instead of keys and values: its tokens and the
/// rows hooks wrote, replayed on the next pass. Cutting it (a new continuation, or a pass resumed at
/// a block) must keep exactly what that next pass needs, which no server is needed to check.
final class BackendReplayTests: XCTestCase {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tiny")

    /// A replaying cache of 6 tokens with writes at positions 2 and 4, feeding blocks 1 and 3.
    func recorded() throws -> KVCache {
        let config = try Model(path: Self.tiny.appendingPathComponent("tiny-llama.gguf").path).config
        var cache = KVCache(config: config, replaying: true)
        cache.replay?.tokens = [10, 11, 12, 13, 14, 15]
        cache.replay?.writes = [
            RecordedWrite(tensor: "l_out-0", feedsLayer: 1, position: 2, row: [1]),
            RecordedWrite(tensor: "l_out-2", feedsLayer: 3, position: 4, row: [2]),
            RecordedWrite(tensor: "l_out-0", feedsLayer: 1, position: 4, row: [3]),
        ]
        cache.commit(rows: 6)
        return cache
    }

    func testContinuingDifferentlyDropsTheTokensAndWritesPastTheCut() throws {
        var cache = try recorded()
        cache.truncate(to: 3)
        XCTAssertEqual(cache.length, 3)
        XCTAssertEqual(cache.replay?.tokens, [10, 11, 12])
        XCTAssertEqual(cache.replay?.writes.map(\.row), [[1]])
        XCTAssertEqual(cache.replay?.cutLayer, .max)
        XCTAssertEqual(cache.positions(layer: 0), 3)
    }

    func testACutAtABlockKeepsTheTokensAndTheWritesBelowIt() throws {
        var cache = try recorded()
        cache.truncate(to: 3, fromLayer: 2)
        XCTAssertEqual(cache.length, 3)
        // The resumed pass runs every token again; the layers below the cut still hold all six.
        XCTAssertEqual(cache.replay?.tokens, [10, 11, 12, 13, 14, 15])
        XCTAssertEqual(cache.positions(layer: 1), 6)
        XCTAssertEqual(cache.positions(layer: 2), 3)
        // Position 4's write into block 3 is past the cut; its write into block 1 is below it.
        XCTAssertEqual(cache.replay?.writes.map(\.row), [[1], [3]])
        XCTAssertTrue(cache.isReady(toResumeAt: 2, rows: 3))
        XCTAssertFalse(cache.isReady(toResumeAt: 2, rows: 4))
    }

    func testACutAtBlockZeroStillHoldsTheTokensOfTheResumedRows() throws {
        // Patching the stream entering block 0 resumes there: the tokens must survive the cut.
        var cache = try recorded()
        cache.truncate(to: 4, fromLayer: 0)
        XCTAssertEqual(cache.replay?.tokens.count, 6)
        XCTAssertEqual(cache.positions(layer: 0), 4)
        XCTAssertEqual(cache.replay?.writes.map(\.row), [[1]])
        XCTAssertTrue(cache.isReady(toResumeAt: 0, rows: 2))
    }

    /// A continued sequence sends only its new tokens when the backend holds its positions exactly
    /// as the cache records them; any other history (another token, another write below the new
    /// rows, a cut) runs again from position 0.
    func testTheBackendsMemoryIsKeptOnlyForTheSameHistory() throws {
        let replay = try recorded().replay!
        var held = replay
        held.tokens += [16]   // a pass that was not committed leaves a position past the cache
        held.writes.append(RecordedWrite(tensor: "l_out-0", feedsLayer: 1, position: 6, row: [9]))
        XCTAssertEqual(BackendMemory.kept([held], sequence: 0, replay: replay, length: 6), 6)
        XCTAssertEqual(BackendMemory.kept([held], sequence: 1, replay: replay, length: 6), 0)
        XCTAssertEqual(BackendMemory.kept([], sequence: 0, replay: replay, length: 6), 0)

        var otherToken = held
        otherToken.tokens[5] = 99
        XCTAssertEqual(BackendMemory.kept([otherToken], sequence: 0, replay: replay, length: 6), 0)
        XCTAssertEqual(BackendMemory.kept([otherToken], sequence: 0, replay: replay, length: 5), 5)

        var steered = held   // the same tokens, a row written differently (another steering scale)
        steered.writes[1].row = [2.5]
        XCTAssertEqual(BackendMemory.kept([steered], sequence: 0, replay: replay, length: 6), 0)
        var unwritten = held
        unwritten.writes.remove(at: 0)
        XCTAssertEqual(BackendMemory.kept([unwritten], sequence: 0, replay: replay, length: 6), 0)

        var cut = replay
        cut.truncate(to: 4, fromLayer: 2)
        XCTAssertEqual(BackendMemory.kept([held], sequence: 0, replay: cut, length: 4), 0)
    }

    func testABatchBeyondOnePassIsSplitIntoConsecutivePasses() {
        // 130 restorations of 10 positions: 64 sequences a pass.
        XCTAssertEqual(Model.passGroups(rows: Array(repeating: 10, count: 130), maxSequences: 64, maxPositions: 4096),
                       [0..<64, 64..<128, 128..<130])
        // Positions bound first; a sequence longer than a pass stands alone (the backend refuses it).
        XCTAssertEqual(Model.passGroups(rows: [3000, 1000, 100, 5000, 1], maxSequences: 64, maxPositions: 4096),
                       [0..<2, 2..<3, 3..<4, 4..<5])
        XCTAssertEqual(Model.passGroups(rows: [5, 5], maxSequences: 64, maxPositions: 4096), [0..<2])
    }

    func testAnOwnRuntimeCacheHasNoReplay() throws {
        let config = try Model(path: Self.tiny.appendingPathComponent("tiny-llama.gguf").path).config
        XCTAssertNil(KVCache(config: config).replay)
        XCTAssertNotNil(KVCache(config: config, replaying: true).replay)
    }
}
