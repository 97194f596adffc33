// The entry functions of the libFuzzer targets, one per surface that reads outside input. The
// fuzz executables (Fuzz/Fuzz*/main.swift) hand them to libFuzzer; the smoke test
// (Tests/FuzzSmokeTests) runs the same functions over the seeds in the ordinary test build.
// A harness traps (precondition) when the code under test breaks a promise; any other input,
// however malformed, must come back.

/// What one input did: read as valid and went through the checks, or refused as malformed.
public enum FuzzOutcome: Sendable, Equatable {
    case accepted
    case refused
}

public enum FuzzTarget: String, CaseIterable, Sendable {
    case gguf = "FuzzGGUF"
    case wire = "FuzzWire"
    case language = "FuzzLanguage"
    case tokenizer = "FuzzTokenizer"
    case csv = "FuzzCSV"
    case writers = "FuzzWriters"

    /// Runs one input.
    public func callAsFunction(_ input: UnsafeRawBufferPointer) -> FuzzOutcome {
        let bytes = input.bindMemory(to: UInt8.self)
        switch self {
        case .gguf: return fuzzGGUF(bytes)
        case .wire: return fuzzWire(bytes)
        case .language: return fuzzLanguage(bytes)
        case .tokenizer: return fuzzTokenizer(bytes)
        case .csv: return fuzzCSV(bytes)
        case .writers: return fuzzWriters(bytes)
        }
    }

    public func callAsFunction(_ input: [UInt8]) -> FuzzOutcome {
        input.withUnsafeBytes { self($0) }
    }

    /// The shape libFuzzer calls: a pointer (nil for an empty input) and a length; 0 keeps the input.
    public func run(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        _ = self(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : count))
        return 0
    }
}
