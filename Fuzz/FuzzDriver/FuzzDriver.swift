#if canImport(Glibc)
import Glibc
#endif

// SwiftPM gives each executable its own entry point, so each target's main.swift hands its input
// function to libFuzzer's driver. libFuzzer's own `main` is linked too and needs
// `LLVMFuzzerTestOneInput`; it forwards to the same function.

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

public typealias FuzzInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

nonisolated(unsafe) private var target: FuzzInput?

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    target?(data, count) ?? 0
}

/// Runs libFuzzer with this process's arguments on `callback` (one input per call) and exits with
/// its status.
public func runFuzzer(_ callback: FuzzInput) -> Never {
    target = callback
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, callback)
    exit(status)
}
