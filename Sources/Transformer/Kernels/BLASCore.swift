import CKernels
import COpenBLAS
import Foundation

// MARK: - OpenBLAS's kernels

/// The OpenBLAS core to ask for through `OPENBLAS_CORETYPE`, or nil to keep the library's choice.
///
/// OpenBLAS picks its kernels from the CPU's model number when the library loads, and a release
/// older than the CPU falls back to its SSE3 kernels ("Prescott"): Debian's 0.3.21 does so on an
/// Emerald Rapids Xeon, where backward passes (integrated gradients) then take about twice as long.
/// When it fell back and the CPU runs our AVX2 or AVX-512 kernels, the matching OpenBLAS core
/// (Haswell, SkylakeX) is the one to ask for; a choice the user made in the environment stands.
public func openBLASCoreToRequest(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    guard environment["OPENBLAS_CORETYPE"] == nil, let name = openblas_get_corename() else { return nil }
    let fallbacks: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "unknown"]
    guard fallbacks.contains(String(cString: name).lowercased()) else { return nil }
    switch pk_best_level() {
    case Int32(PK_AVX512): return "SkylakeX"
    case Int32(PK_AVX2): return "Haswell"
    default: return nil
    }
}

/// Runs this program again with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to kernels older
/// than the CPU (the variable is read only when the library loads). Called first thing in `main`,
/// before any file or socket is open; if the exec fails the program goes on with OpenBLAS's choice.
public func reloadWithOpenBLASCoreIfMisdetected() {
    guard let core = openBLASCoreToRequest() else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    // The binary's own path rather than /proc/self/exe, whose name would become the process's
    // name in ps and top.
    let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
    execv(binary, CommandLine.unsafeArgv)
}
