import Foundation
import FuzzDriver
import FuzzTargets

// The vocabularies come from GGUF files named by PERISCOPE_FUZZ_BPE and PERISCOPE_FUZZ_SPM.
let paths = ["PERISCOPE_FUZZ_BPE", "PERISCOPE_FUZZ_SPM"].compactMap { ProcessInfo.processInfo.environment[$0] }.filter { !$0.isEmpty }
do {
    guard !paths.isEmpty else { throw CocoaError(.fileNoSuchFile) }
    try loadFuzzTokenizers(paths: paths)
} catch {
    FileHandle.standardError.write(Data("set PERISCOPE_FUZZ_BPE and/or PERISCOPE_FUZZ_SPM to GGUF files with vocabularies (\(paths)): \(error)\n".utf8))
    exit(2)
}
runFuzzer { data, count in FuzzTarget.tokenizer.run(data, count) }
