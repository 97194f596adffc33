import Foundation
import XCTest
@testable import JupyterProtocol

final class ConnectionInfoTests: XCTestCase {
    private let tcp = #"""
    {"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004, "hb_port": 5005,
     "ip": "127.0.0.1", "key": "abc-123", "transport": "tcp", "signature_scheme": "hmac-sha256", "kernel_name": "periscope"}
    """#

    func testParsesTCPFile() throws {
        let info = try ConnectionInfo(json: Data(tcp.utf8))
        XCTAssertEqual(info.transport, .tcp)
        XCTAssertEqual(info.key, "abc-123")
        XCTAssertEqual(info.kernelName, "periscope")
        XCTAssertFalse(info.usesCurve)
        XCTAssertEqual(info.endpoint(for: .shell), "tcp://127.0.0.1:5001")
        XCTAssertEqual(info.endpoint(for: .hb), "tcp://127.0.0.1:5005")
        XCTAssertTrue(info.signer.isEnabled)
    }

    func testParsesIPCFileWithJupyterEndpointForm() throws {
        let text = tcp.replacingOccurrences(of: #""transport": "tcp""#, with: #""transport": "ipc""#)
            .replacingOccurrences(of: "127.0.0.1", with: "/tmp/kernel-x")
        let info = try ConnectionInfo(json: Data(text.utf8))
        XCTAssertEqual(info.endpoint(for: .iopub), "ipc:///tmp/kernel-x-5002")
    }

    func testParsesCurveKeys() throws {
        let pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        let sec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
        let text = tcp.replacingOccurrences(of: "\"kernel_name\"", with: "\"curve_publickey\": \"\(pub)\", \"curve_secretkey\": \"\(sec)\", \"kernel_name\"")
        let info = try ConnectionInfo(json: Data(text.utf8))
        XCTAssertTrue(info.usesCurve)
        XCTAssertEqual(info.curvePublicKey, pub)
        XCTAssertEqual(info.curveSecretKey, sec)
    }

    func testRejectsHalfACurveKeyPairAndBadKeys() {
        let onlyPublic = tcp.replacingOccurrences(of: "\"kernel_name\"",
                                                  with: "\"curve_publickey\": \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\", \"kernel_name\"")
        XCTAssertThrowsError(try ConnectionInfo(json: Data(onlyPublic.utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .missingField("curve_secretkey"))
        }
        let short = tcp.replacingOccurrences(of: "\"kernel_name\"", with: "\"curve_publickey\": \"short\", \"kernel_name\"")
        XCTAssertThrowsError(try ConnectionInfo(json: Data(short.utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .badCurveKey(field: "curve_publickey"))
        }
    }

    func testReportsMissingAndWrongFields() {
        XCTAssertThrowsError(try ConnectionInfo(json: Data(#"{"shell_port": 1}"#.utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .missingField("iopub_port"))
        }
        let wrongPort = tcp.replacingOccurrences(of: "5001", with: "\"5001\"")
        XCTAssertThrowsError(try ConnectionInfo(json: Data(wrongPort.utf8))) {
            guard case .wrongType(let field, _)? = $0 as? ConnectionFileError else { return XCTFail("\($0)") }
            XCTAssertEqual(field, "shell_port")
        }
        let udp = tcp.replacingOccurrences(of: #""tcp""#, with: #""udp""#)
        XCTAssertThrowsError(try ConnectionInfo(json: Data(udp.utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .unsupportedTransport("udp"))
        }
        let md5 = tcp.replacingOccurrences(of: "hmac-sha256", with: "hmac-md5")
        XCTAssertThrowsError(try ConnectionInfo(json: Data(md5.utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .unsupportedSignatureScheme("hmac-md5"))
        }
        XCTAssertThrowsError(try ConnectionInfo(json: Data(#"{"shell_port": 1"#.utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .invalidJSON(.unexpectedEnd))
        }
        XCTAssertThrowsError(try ConnectionInfo(json: Data("[1]".utf8))) {
            XCTAssertEqual($0 as? ConnectionFileError, .notAnObject)
        }
        XCTAssertEqual(ConnectionFileError.invalidJSON(.unexpectedEnd).description,
                       "The connection file is not valid JSON: " + JSONParseError.unexpectedEnd.description)
        XCTAssertEqual(ConnectionFileError.notAnObject.description, "The connection file is not valid JSON: the top level is not an object.")
        XCTAssertThrowsError(try ConnectionInfo(contentsOfFile: "/nonexistent/periscope-connection.json")) {
            guard case .unreadable? = $0 as? ConnectionFileError else { return XCTFail("\($0)") }
        }
    }

    func testEmptyKeyDisablesSigning() throws {
        let info = try ConnectionInfo(json: Data(tcp.replacingOccurrences(of: "abc-123", with: "").utf8))
        XCTAssertFalse(info.signer.isEnabled)
    }
}

final class CursorTests: XCTestCase {
    func testScalarOffsetsCountCodePointsNotGraphemes() {
        // "é" written as e + combining accent is one Character but two scalars; 🤖 is one scalar.
        let text = "e\u{301}🤖ab"
        XCTAssertEqual(text.scalarCount, 5)
        XCTAssertEqual(String(text[text.index(atScalarOffset: 3)...]), "ab")
        XCTAssertEqual(text.scalarOffset(of: text.index(atScalarOffset: 3)), 3)
        XCTAssertEqual(text.index(atScalarOffset: 99), text.endIndex, "past the end clamps")
        XCTAssertEqual(text.index(atScalarOffset: -4), text.startIndex, "negative clamps")
    }
}
