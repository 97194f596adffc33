#if canImport(LlamaCpp)
import JupyterKernel
import LlamaCpp
import XCTest
@testable import PeriscopeKernel

/// ggml-rpc-server has no authentication or encryption, so `load … on` warns about every server
/// address that is not loopback or a private range as written; a host name may resolve anywhere.
final class ServerAddressWarningTests: XCTestCase {
    func testLoopbackAndPrivateRangesAreRecognisedAsWritten() {
        for host in ["127.0.0.1", "127.255.0.9", "localhost", "::1", "[::1]", "10.0.0.1", "172.16.0.1", "172.31.255.255",
                     "192.168.1.20"] {
            XCTAssertTrue(Endpoint.isLocalOrPrivate(host), host)
        }
        for host in ["8.8.8.8", "172.15.0.1", "172.32.0.1", "192.169.0.1", "11.0.0.1", "0.0.0.0", "example.com",
                     "10.0.0.1.example.com", "192.168.1.1.nip.io", "10.0.0", "10.0.0.1.", "10..0.1", "10.0.0.256", "::2"] {
            XCTAssertFalse(Endpoint.isLocalOrPrivate(host), host)
        }
    }

    /// The warning comes before any connection: the file is missing, so the cell fails right after.
    func testLoadWarnsAboutEachPublicServerOnly() {
        let interpreter = PeriscopeInterpreter()
        let io = RecordingIO()
        let cell = #"load "/nowhere/model.gguf" on ["127.0.0.1:50052", "192.168.1.20:50052", "10.0.0.1.example.com:50052", "203.0.113.7:50052"]"#
        guard case .error = interpreter.execute(ExecuteRequest(code: cell), io: io) else {
            return XCTFail("a missing file must fail the load")
        }
        let warnings = io.outputs.compactMap { output -> String? in
            guard case .stream("stderr", let text) = output, text.contains("no authentication or encryption") else { return nil }
            return text
        }
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("10.0.0.1.example.com:50052 is neither loopback nor a private address") })
        XCTAssertTrue(warnings.contains { $0.contains("203.0.113.7:50052 is neither loopback nor a private address") })
    }
}
#endif
