import JupyterProtocol
import XCTest
@testable import PeriscopeLSP

/// The server end to end through frames: lifecycle, diagnostics with their ranges and codes,
/// hover, completion, signature help, definition, outline, incremental sync, cancellation.
final class LanguageServerTests: XCTestCase {
    let document = """
        p = prompt "The Eiffel Tower is in"
        lense p layers 0..3
        lens p layrs 0..3
        lens p layers "x"
        lens p top 3 top 4
        lens q
        q = prompt "x"
        lens p layers 0..
        run zz
        """

    func ready() -> LSPTestClient {
        let client = LSPTestClient()
        _ = client.initialize()
        return client
    }

    func testInitializeAnswersCapabilitiesAndNegotiatesTheEncoding() {
        let client = LSPTestClient()
        let result = client.initialize()["result"]
        XCTAssertEqual(result?["capabilities"]?["positionEncoding"], "utf-16", "UTF-16 unless the client offers more")
        XCTAssertEqual(result?["capabilities"]?["textDocumentSync"]?["change"], 2, "incremental sync")
        XCTAssertEqual(result?["serverInfo"]?["name"], "periscope")
        let scalarClient = LSPTestClient()
        XCTAssertEqual(scalarClient.initialize(encodings: ["utf-8", "utf-32", "utf-16"])["result"]?["capabilities"]?["positionEncoding"], "utf-32")
    }

    func testRequestsBeforeInitializeAreRefused() {
        let client = LSPTestClient()
        XCTAssertEqual(client.request("textDocument/hover", client.at(0, 0))["error"]?["code"], -32002)
        XCTAssertEqual(client.initialize()["result"]?["capabilities"]?["hoverProvider"], true)
        XCTAssertEqual(client.request("initialize")["error"]?["code"], -32600, "a second initialize")
    }

    func testDiagnosticsHaveExactRangesCodesAndSuggestions() throws {
        let client = ready()
        let diagnostics = client.open(document)
        func find(_ code: String) throws -> JSONValue {
            try XCTUnwrap(diagnostics.first { $0["code"]?.stringValue == code }, "no \(code) in \(diagnostics)")
        }
        XCTAssertEqual(diagnostics.count, 7, "\(diagnostics)")

        let verb = try find("unknown-verb")
        XCTAssertEqual(verb["range"], lspRange(1, 0, 1, 5))
        XCTAssertTrue(verb["message"]?.stringValue?.contains("did you mean `lens`") == true, "\(verb)")
        XCTAssertEqual(verb["severity"], 1)
        XCTAssertEqual(verb["source"], "periscope")

        let keyword = try find("unknown-keyword")
        XCTAssertEqual(keyword["range"], lspRange(2, 7, 2, 12))
        XCTAssertTrue(keyword["message"]?.stringValue?.contains("did you mean `layers`") == true, "\(keyword)")

        let kind = try find("wrong-kind")
        XCTAssertEqual(kind["range"], lspRange(3, 14, 3, 17))
        XCTAssertTrue(kind["message"]?.stringValue?.contains("`layers` of `lens` expects layers") == true, "\(kind)")

        XCTAssertEqual(try find("duplicate-keyword")["range"], lspRange(4, 13, 4, 16))

        let early = try find("used-before-assignment")
        XCTAssertEqual(early["range"], lspRange(5, 5, 5, 6))
        XCTAssertEqual(early["severity"], 2, "a warning: notebook cells may run in another order")
        XCTAssertTrue(early["message"]?.stringValue?.contains("line 7") == true, "\(early)")

        let syntax = try find("syntax")
        XCTAssertEqual(syntax["range"], lspRange(7, 16, 7, 17), "the character before the end of the line")
        XCTAssertTrue(syntax["message"]?.stringValue?.contains("integer after `..`") == true, "\(syntax)")

        // The statement after the syntax error is still checked.
        XCTAssertEqual(try find("undefined-variable")["range"], lspRange(8, 4, 8, 6))
    }

    func testIncrementalChangesRecheckTheDocument() {
        let client = ready()
        XCTAssertEqual(client.open("p = prompt \"x\"\nlense p\n").count, 1)
        // Delete the `e` of `lense` (line 1, characters 4..5), then type a new line that uses q.
        let out = client.notify("textDocument/didChange", [
            "textDocument": ["uri": "file:///doc.scope", "version": 2],
            "contentChanges": [
                ["range": lspRange(1, 4, 1, 5), "text": ""],
                ["range": lspRange(2, 0, 2, 0), "text": "tokens q\n"],
            ],
        ])
        let published = out.filter { $0["method"] == "textDocument/publishDiagnostics" }
        XCTAssertEqual(published.count, 1, "one publication for the batch")
        XCTAssertEqual(published.first?["params"]?["version"], 2)
        let diagnostics = client.diagnostics(in: out)
        XCTAssertEqual(diagnostics.map { $0["code"]?.stringValue }, ["undefined-variable"])
        XCTAssertEqual(diagnostics.first?["range"], lspRange(2, 7, 2, 8))
        // A full replacement (no range) works too.
        let full = client.notify("textDocument/didChange", [
            "textDocument": ["uri": "file:///doc.scope", "version": 3], "contentChanges": [["text": "help lens\n"]],
        ])
        XCTAssertEqual(client.diagnostics(in: full).count, 0)
    }

    func testUTF16AndScalarPositions() {
        let text = "print \"😀😀\" layrs"
        let utf16 = ready()
        XCTAssertEqual(utf16.open(text).first?["range"], lspRange(0, 13, 0, 18))
        let scalars = LSPTestClient()
        _ = scalars.initialize(encodings: ["utf-32"])
        XCTAssertEqual(scalars.open(text).first?["range"], lspRange(0, 11, 0, 16))
        // And back in: hovering the keyword position in UTF-16 finds `print`'s statement.
        XCTAssertEqual(utf16.request("textDocument/definition", utf16.at(0, 14))["result"], .null)
    }

    func testHoverOnVerbKeywordAndVariable() throws {
        let client = ready()
        client.open(document)
        let verb = client.request("textDocument/hover", client.at(2, 2))["result"]
        let verbText = try XCTUnwrap(verb?["contents"]?["value"]?.stringValue)
        XCTAssertTrue(verbText.contains("lens p [layers R]"), verbText)
        XCTAssertTrue(verbText.contains("**Example**"), verbText)
        XCTAssertEqual(verb?["range"], lspRange(2, 0, 2, 4))

        let keyword = client.request("textDocument/hover", client.at(3, 9))["result"]
        let keywordText = try XCTUnwrap(keyword?["contents"]?["value"]?.stringValue)
        XCTAssertTrue(keywordText.contains("lens … layers R"), keywordText)
        XCTAssertTrue(keywordText.contains("which layers"), keywordText)

        let variable = client.request("textDocument/hover", client.at(3, 5))["result"]
        XCTAssertTrue(variable?["contents"]?["value"]?.stringValue?.contains("assigned on line 1") == true, "\(String(describing: variable))")

        XCTAssertEqual(client.request("textDocument/hover", client.at(3, 15))["result"], .null, "inside a string")
    }

    func testCompletionOffersVerbsKeywordsPresetsHooksAndEarlierVariables() {
        let client = ready()
        let text = """
            p = prompt "x"
            le
            lens p la
            patchscope p target 
            trace p p answer "a" hook 
            run 
            late = 1
            """
        client.open(text)
        func labels(_ line: Int, _ character: Int) -> [String] {
            let result = client.request("textDocument/completion", client.at(line, character))["result"]
            return result?["items"]?.arrayValue?.compactMap { $0["label"]?.stringValue } ?? []
        }
        XCTAssertTrue(labels(1, 2).contains("lens"))
        XCTAssertFalse(labels(1, 2).contains("run"), "filtered by what is typed")
        XCTAssertEqual(labels(2, 9), ["layers"], "keywords the verb still takes")
        XCTAssertEqual(Array(labels(3, 20).prefix(3)), ["attribute", "description", "identity"])
        XCTAssertEqual(Array(labels(4, 26).prefix(3)), ["resid_pre", "attn_out", "mlp_out"])
        let afterRun = labels(5, 4)
        XCTAssertTrue(afterRun.contains("p"))
        XCTAssertFalse(afterRun.contains("late"), "assigned after the cursor")

        let item = client.request("textDocument/completion", client.at(2, 9))["result"]?["items"]?.arrayValue?.first
        XCTAssertEqual(item?["textEdit"]?["range"], lspRange(2, 7, 2, 9), "replaces the word being typed")
        XCTAssertEqual(item?["kind"], 14)
    }

    func testSignatureHelpMarksTheParameterBeingWritten() throws {
        let client = ready()
        client.open("lens \"x\" layers \nlens \"x\" ")
        let help = client.request("textDocument/signatureHelp", client.at(0, 16))["result"]
        let signature = try XCTUnwrap(help?["signatures"]?.arrayValue?.first)
        let label = try XCTUnwrap(signature["label"]?.stringValue)
        XCTAssertTrue(label.hasPrefix("lens p"))
        let active = try XCTUnwrap(help?["activeParameter"]?.intValue)
        let span = try XCTUnwrap(signature["parameters"]?.arrayValue?[active]["label"]?.arrayValue?.compactMap(\.intValue))
        let scalars = Array(label.unicodeScalars)
        XCTAssertEqual(String(String.UnicodeScalarView(scalars[span[0]..<span[1]])), "layers")

        let next = client.request("textDocument/signatureHelp", client.at(1, 9))["result"]
        XCTAssertNotNil(next?["signatures"]?.arrayValue?.first)
    }

    func testDefinitionAndDocumentSymbols() throws {
        let client = ready()
        client.open(document)
        let definition = client.request("textDocument/definition", client.at(2, 5))["result"]
        XCTAssertEqual(definition?["range"], lspRange(0, 0, 0, 1))
        XCTAssertEqual(definition?["uri"], "file:///doc.scope")
        // `q` used before its assignment still jumps to it.
        XCTAssertEqual(client.request("textDocument/definition", client.at(5, 5))["result"]?["range"], lspRange(6, 0, 6, 1))

        let symbols = try XCTUnwrap(client.request("textDocument/documentSymbol", ["textDocument": ["uri": "file:///doc.scope"]])["result"]?.arrayValue)
        XCTAssertEqual(symbols.map { $0["name"]?.stringValue }, ["p", "q"])
        XCTAssertEqual(symbols.first?["detail"], "prompt")
        XCTAssertEqual(symbols.first?["selectionRange"], lspRange(0, 0, 0, 1))
        XCTAssertEqual(symbols.first?["range"], lspRange(0, 0, 0, 35))
    }

    func testCancelledRequestsAreAnsweredWithRequestCancelled() {
        let client = ready()
        client.open(document)
        let out = client.feed([
            ["jsonrpc": "2.0", "id": 41, "method": "textDocument/hover", "params": client.at(2, 2)],
            ["jsonrpc": "2.0", "id": 42, "method": "textDocument/hover", "params": client.at(2, 2)],
            ["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": 41]],
        ])
        XCTAssertEqual(out.first { $0["id"] == 41 }?["error"]?["code"], -32800)
        XCTAssertNotNil(out.first { $0["id"] == 42 }?["result"]?["contents"])
    }

    func testShutdownThenExit() {
        let client = ready()
        XCTAssertEqual(client.request("shutdown")["result"], .null)
        XCTAssertEqual(client.request("textDocument/hover", client.at(0, 0))["error"]?["code"], -32600)
        XCTAssertNil(client.server.exitCode)
        client.notify("exit")
        XCTAssertEqual(client.server.exitCode, 0)

        let abrupt = ready()
        abrupt.notify("exit")
        XCTAssertEqual(abrupt.server.exitCode, 1, "exit without shutdown")
    }

    func testGarbageIsAnsweredWithErrorsAndTheServerGoesOn() {
        let client = ready()
        func codes(_ out: [JSONValue]) -> [Int] { out.compactMap { $0["error"]?["code"]?.intValue } }
        XCTAssertEqual(codes(client.feed(Array("hello\r\n".utf8))), [-32700], "text where a header belongs")
        XCTAssertEqual(codes(client.feed(Array("Content-Length: 5\r\n\r\n{oops".utf8))), [-32700], "not JSON")
        XCTAssertEqual(codes(client.feed(Array("Content-Type: x\r\n\r\n".utf8))), [-32700], "no Content-Length")
        XCTAssertEqual(codes(client.feed(Array("Content-Length: -3\r\n\r\n".utf8))), [-32700])
        XCTAssertEqual(codes(client.feed([.array([1, 2])])), [-32600], "a batch")
        XCTAssertEqual(codes(client.feed([.int(7)])), [-32600])
        XCTAssertEqual(codes(client.feed([["jsonrpc": "2.0", "id": 3, "method": 12]])), [-32600])
        XCTAssertEqual(codes(client.feed([["jsonrpc": "2.0", "id": ["x": 1], "method": "shutdown"]])), [-32600])
        XCTAssertEqual(client.request("textDocument/frobnicate")["error"]?["code"], -32601)
        XCTAssertEqual(client.request("textDocument/hover", ["textDocument": ["uri": "file:///doc.scope"]])["error"]?["code"], -32602)
        XCTAssertEqual(client.request("textDocument/hover", client.at(0, 0, uri: "file:///never-opened"))["error"]?["code"], -32602)
        // Notifications with bad params are dropped silently; the next request is answered.
        XCTAssertEqual(client.notify("textDocument/didOpen", ["textDocument": 5]), [])
        client.open("lens")
        XCTAssertNotNil(client.request("textDocument/hover", client.at(0, 1))["result"]?["contents"])
    }
}
