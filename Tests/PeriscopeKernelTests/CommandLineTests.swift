import Foundation
import JupyterProtocol
import XCTest
@testable import PeriscopeKernel

/// What the `periscope` executable does, through the library calls it makes.
final class CommandLineTests: XCTestCase {
    var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("periscope-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temporary) }

    // MARK: run

    func testScriptPrintsEveryOutputInOrder() {
        var out = "", err = ""
        let io = ConsoleIO(out: { out += $0 }, err: { err += $0 })
        let status = runScript("# a comment\nx = 3\nprint \"hello from a script\"\n[x, 4]\nshow x\n", interpreter: generalInterpreter(), io: io,
                               err: { err += $0 })
        XCTAssertEqual(status, 0, err)
        XCTAssertEqual(out, "hello from a script\n[3, 4]\n3\n")
        XCTAssertEqual(err, "")
    }

    func testScriptStopsAtFirstErrorWithDiagnostic() {
        var out = "", err = ""
        let io = ConsoleIO(out: { out += $0 }, err: { err += $0 })
        let status = runScript("print \"before\"\nprnt \"x\"\nprint \"after\"\n", interpreter: generalInterpreter(), io: io, err: { err += $0 })
        XCTAssertEqual(status, 1)
        XCTAssertEqual(out, "before\n")
        XCTAssertTrue(err.hasPrefix("CommandError: unknown command `prnt`; did you mean `print`?"), err)
        XCTAssertTrue(err.contains("line 2, column 1: "), err)
        XCTAssertTrue(err.contains("\n  prnt \"x\"\n  ^^^^\n"), err)
    }

    func testScriptWithSyntaxErrorRunsTheStatementsBeforeIt() {
        var out = "", err = ""
        let io = ConsoleIO(out: { out += $0 }, err: { err += $0 })
        let status = runScript("print \"before\"\nx = 1\nprint [1, 2\nprint \"after\"\n", interpreter: generalInterpreter(), io: io, err: { err += $0 })
        XCTAssertEqual(status, 1)
        XCTAssertEqual(out, "before\n")
        XCTAssertTrue(err.hasPrefix("SyntaxError: "), err)
        XCTAssertTrue(err.contains("\nline 4, column 1: "), err)
    }

    func testConsoleShowsPagerTextAndSkipsProgressBars() {
        var out = ""
        let io = ConsoleIO(out: { out += $0 }, err: { _ in })
        io.display(["text/plain": "[####] 40%"], metadata: [:], displayID: "bar", update: false)
        io.display(["text/plain": "[######] 60%"], metadata: [:], displayID: "bar", update: true)
        io.payload(["source": "page", "data": ["text/plain": "help page"], "start": 0])
        io.stream("stdout", "x\n")
        XCTAssertEqual(out, "help page\nx\n")
    }

    // MARK: install

    func testKernelJSONMatchesTheTemplateExceptTheBinary() throws {
        let template = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../kernelspec/kernel.json").standardized
        let expected = try JSONValue.parse(String(contentsOf: template, encoding: .utf8))
        guard case .object(var spec) = Kernelspec.kernelJSON(binaryPath: "/opt/bin/periscope"),
              case .array(var argv)? = spec["argv"] else { return XCTFail("kernel.json must be an object with argv") }
        XCTAssertEqual(argv.first, "/opt/bin/periscope")
        argv[0] = "periscope"
        spec["argv"] = .array(argv)
        XCTAssertEqual(JSONValue.object(spec), expected)
    }

    func testInstallWithPrefixLaysOutLikeJupyter() throws {
        let folder = try Kernelspec.install(binaryPath: "/usr/bin/periscope", destination: .prefix(temporary.path))
        XCTAssertEqual(folder.path, temporary.appendingPathComponent("share/jupyter/kernels/periscope").path)
        let written = try String(contentsOf: folder.appendingPathComponent("kernel.json"), encoding: .utf8)
        let json = try JSONValue.parse(written)
        XCTAssertEqual(json["argv"], ["/usr/bin/periscope", "kernel", "--connection-file", "{connection_file}"])
        XCTAssertEqual(json["display_name"], "Periscope")
        XCTAssertEqual(json["interrupt_mode"], "message")
        XCTAssertEqual(json["metadata"]?["supported_encryption"], ["curve"])
        // The logos are the files of kernelspec/, byte for byte.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../kernelspec")
        for logo in ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"] {
            let installed = try Data(contentsOf: folder.appendingPathComponent(logo))
            XCTAssertEqual(installed, try Data(contentsOf: source.appendingPathComponent(logo)), logo)
        }
        XCTAssertEqual(Array(try Data(contentsOf: folder.appendingPathComponent("logo-64x64.png")).prefix(4)),
                       [0x89, 0x50, 0x4E, 0x47])
    }

    func testUserAndSysPrefixDirectories() throws {
        let env = ["HOME": "/home/ada"]
        #if !os(macOS)
        XCTAssertEqual(try Kernelspec.directory(for: .user, environment: env).path,
                       "/home/ada/.local/share/jupyter/kernels/periscope")
        #endif
        XCTAssertEqual(try Kernelspec.directory(for: .user, environment: ["JUPYTER_DATA_DIR": "/data/j"]).path,
                       "/data/j/kernels/periscope")
        XCTAssertEqual(try Kernelspec.directory(for: .sysPrefix, environment: ["VIRTUAL_ENV": "/venvs/lab"],
                                                pythonPrefix: { nil }).path,
                       "/venvs/lab/share/jupyter/kernels/periscope")
        XCTAssertEqual(try Kernelspec.directory(for: .sysPrefix, environment: [:], pythonPrefix: { "/usr" }).path,
                       "/usr/share/jupyter/kernels/periscope")
        XCTAssertThrowsError(try Kernelspec.directory(for: .sysPrefix, environment: [:], pythonPrefix: { nil })) {
            XCTAssertEqual($0 as? Kernelspec.InstallError, .noPythonEnvironment)
        }
    }

    func testInstallIntoUnwritablePlaceExplainsWhatToDo() throws {
        let file = temporary.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try Kernelspec.install(binaryPath: "/x", destination: .prefix(file.path))) { error in
            XCTAssertTrue(String(describing: error).contains("periscope install --user"), "\(error)")
        }
    }
}
