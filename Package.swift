// swift-tools-version:6.1
import Foundation
import PackageDescription

// One job per target; docs/architecture.md draws the graph. The protocol side (JupyterProtocol, JupyterKernel,
// JupyterZMQ) and the model side (GGUF, Transformer, Interpretability) meet only in PeriscopeKernel.
let optimised: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]
// The model runtime's SIMD kernels live in a C target: C can build one function for several
// instruction sets (AVX-512, AVX2, portable) and pick one when it runs, so one binary runs on any
// x86-64 CPU. Their dequantisation must round exactly like the GGUF reader's, hence no contraction.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=off"])]
// libllama and the ggml RPC backend come from scripts/build_llama.sh (`make` runs it before
// `swift build`) in .build-llama/lib; the binaries find them there by rpath. A checkout where that
// build has not run yet builds without the llama.cpp backend (`load … on` then says so).
let llamaLib = Context.packageDirectory + "/.build-llama/lib"
let llamaLink: [LinkerSetting] = [.unsafeFlags(["-L" + llamaLib, "-Xlinker", "-rpath", "-Xlinker", llamaLib])]
let hasLlama = FileManager.default.fileExists(atPath: Context.packageDirectory + "/.build-llama/include/llama.h")
    && FileManager.default.fileExists(atPath: llamaLib + "/libllama.so")

let package = Package(
    name: "Periscope",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "periscope", targets: ["periscope"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", .upToNextMajor(from: "3.12.3")),
        .package(url: "https://github.com/apple/swift-argument-parser.git", .upToNextMajor(from: "1.8.2")),
    ],
    targets: [
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // How a string is written as JSON, shared by the protocol's serialiser and Rendering's payloads.
        .target(name: "JSONText"),
        .target(name: "JupyterProtocol", dependencies: ["JSONText", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "JupyterKernel", dependencies: ["JupyterProtocol"]),
        .target(name: "JupyterZMQ", dependencies: ["JupyterProtocol", "JupyterKernel", "CZeroMQ"]),

        .target(name: "GGUF", swiftSettings: optimised),
        .target(name: "CKernels", cSettings: kernelFlags),
        .target(name: "Transformer", dependencies: ["GGUF", "COpenBLAS", "CKernels"], swiftSettings: optimised),
        .target(name: "Interpretability", dependencies: ["Transformer", "COpenBLAS"], swiftSettings: optimised),

        .target(name: "Rendering", dependencies: ["JSONText"]),
        .target(name: "PeriscopeLanguage"),
        .target(name: "PeriscopeKernel", dependencies: [
            "JupyterProtocol", "JupyterKernel", "GGUF", "Transformer", "Interpretability",
            "Rendering", "PeriscopeLanguage", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "PeriscopeLSP", dependencies: ["PeriscopeKernel", "PeriscopeLanguage", "JupyterProtocol"]),
        .executableTarget(name: "periscope", dependencies: [
            "PeriscopeKernel", "PeriscopeLSP", "JupyterZMQ", "Transformer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "JupyterProtocolTests", dependencies: ["JupyterProtocol"]),
        // A tiny interpreter and an in-memory transport the kernel machinery is tested against.
        .target(name: "JupyterKernelTesting", dependencies: ["JupyterKernel", "JupyterProtocol"], path: "Tests/JupyterKernelTesting"),
        .testTarget(name: "JupyterKernelTests", dependencies: ["JupyterKernel", "JupyterKernelTesting"]),
        .testTarget(name: "JupyterZMQTests", dependencies: ["JupyterZMQ", "JupyterKernelTesting", "CZeroMQ"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer"], resources: [.copy("Fixtures")]),
        .testTarget(name: "InterpretabilityTests", dependencies: ["Interpretability"], exclude: ["Fixtures"]),
        .testTarget(name: "RenderingTests", dependencies: ["Rendering"], exclude: ["Snapshots"]),
        .testTarget(name: "PeriscopeLanguageTests", dependencies: ["PeriscopeLanguage"]),
        .testTarget(name: "PeriscopeKernelTests", dependencies: ["PeriscopeKernel"]),
        .testTarget(name: "PeriscopeLSPTests", dependencies: ["PeriscopeLSP"]),

        // The fuzz harnesses' entry functions, one per surface that reads outside input: libFuzzer
        // runs them in the fuzz executables below, the smoke test over the seeds in every test run.
        .target(name: "FuzzTargets", dependencies: [
            "GGUF", "JupyterProtocol", "PeriscopeLanguage", "PeriscopeKernel", "Transformer", "Interpretability",
        ], path: "Fuzz/FuzzTargets"),
        .testTarget(name: "FuzzSmokeTests", dependencies: ["FuzzTargets"]),
    ]
)

if hasLlama {
    package.targets.append(.systemLibrary(name: "CLlama"))
    package.targets.append(.target(name: "LlamaCpp", dependencies: ["CLlama", "Transformer"], linkerSettings: llamaLink))
    for target in package.targets where target.name == "PeriscopeKernel" || target.name == "periscope" {
        target.dependencies.append("LlamaCpp")
    }
}

// The libFuzzer executables, one per harness in FuzzTargets (Fuzz/). Only `make fuzz` declares them
// (PERISCOPE_FUZZ=1), building with -sanitize=fuzzer,address into its own scratch path; libFuzzer
// runs them (Fuzz/FuzzDriver).
if ProcessInfo.processInfo.environment["PERISCOPE_FUZZ"] != nil {
    package.targets.append(.target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"))
    for name in ["FuzzGGUF", "FuzzWire", "FuzzLanguage", "FuzzTokenizer", "FuzzCSV", "FuzzWriters"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["FuzzTargets", "FuzzDriver"], path: "Fuzz/\(name)"))
    }
}

