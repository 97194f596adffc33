import Foundation
import XCTest
@testable import JupyterProtocol

final class WireCodecTests: XCTestCase {
    private func sample() -> Message {
        Message(identities: [Data("client-1".utf8), Data([0, 1, 2])],
                header: Header(msgID: "m1", session: "s1", username: "u", date: "2026-01-01T00:00:00.000000Z",
                               msgType: "execute_request", extra: ["subshell_id": nil]),
                parentHeader: ["msg_id": "p0"], metadata: ["cellId": "c1"],
                content: ["code": "run p", "silent": false, "n": 3], buffers: [Data([9, 8, 7])])
    }

    func testRoundTripKeepsIdentitiesHeaderContentAndBuffers() throws {
        let codec = WireCodec(signer: Signer(key: "k"))
        let frames = codec.encode(sample())
        XCTAssertEqual(frames[2], WireCodec.delimiter)
        XCTAssertEqual(frames.count, 2 + 1 + 5 + 1)
        let decoded = try codec.decode(frames)
        XCTAssertEqual(decoded, sample())
        XCTAssertEqual(decoded.header.extra["subshell_id"], .null, "unknown header fields are kept for echoing")
    }

    func testSignatureMatchesJupyterClient() {
        // Value computed with Python's hmac over the same four frames (what jupyter_client's Session.sign does).
        let frames = [Data(#"{"msg_id":"a1","msg_type":"kernel_info_request"}"#.utf8), Data("{}".utf8), Data("{}".utf8), Data("{}".utf8)]
        XCTAssertEqual(Signer(key: "secret-key").signature(of: frames),
                       "ee7b6480810b69a59047f9de06cdaa6118a09e8ea5eb47f0e863dd352d06d569")
    }

    func testSignatureMatchesRFC4231Vector() {
        XCTAssertEqual(Signer(key: "Jefe").signature(of: [Data("what do ya want ".utf8), Data("for nothing?".utf8)]),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func testTamperedFrameIsRejected() throws {
        let codec = WireCodec(signer: Signer(key: "k"))
        var frames = codec.encode(sample())
        // Change the content frame after signing; its JSON stays valid.
        frames[7] = Data(String(decoding: frames[7], as: UTF8.self).replacingOccurrences(of: "run p", with: "run q").utf8)
        XCTAssertThrowsError(try codec.decode(frames)) { XCTAssertEqual($0 as? WireError, .badSignature) }
    }

    func testSignatureIsCheckedOverRawBytesNotReserializedJSON() throws {
        // Same JSON meaning, different bytes (a space): the signature must no longer match.
        let codec = WireCodec(signer: Signer(key: "k"))
        var frames = codec.encode(sample())
        frames[5] = Data(#"{"msg_id": "p0"}"#.utf8)
        XCTAssertThrowsError(try codec.decode(frames)) { XCTAssertEqual($0 as? WireError, .badSignature) }
    }

    func testWrongKeyIsRejected() {
        let frames = WireCodec(signer: Signer(key: "right")).encode(sample())
        XCTAssertThrowsError(try WireCodec(signer: Signer(key: "wrong")).decode(frames)) {
            XCTAssertEqual($0 as? WireError, .badSignature)
        }
    }

    func testEmptyKeyMeansUnsigned() throws {
        let unsigned = WireCodec(signer: Signer(key: ""))
        let frames = unsigned.encode(sample())
        XCTAssertEqual(frames[3], Data(), "an unsigned message carries an empty signature")
        // With no key, any signature is accepted, as jupyter_client does.
        var forged = WireCodec(signer: Signer(key: "x")).encode(sample())
        forged[3] = Data("not-a-signature".utf8)
        XCTAssertEqual(try unsigned.decode(forged).content, sample().content)
        // But a keyed kernel refuses the unsigned message.
        XCTAssertThrowsError(try WireCodec(signer: Signer(key: "k")).decode(frames))
    }

    func testStructuralErrors() {
        let codec = WireCodec(signer: Signer(key: ""))
        XCTAssertThrowsError(try codec.decode([Data("a".utf8), Data("{}".utf8)])) {
            XCTAssertEqual($0 as? WireError, .missingDelimiter)
        }
        XCTAssertThrowsError(try codec.decode([WireCodec.delimiter, Data(), Data("{}".utf8)])) {
            XCTAssertEqual($0 as? WireError, .tooFewFrames(2))
        }
        let bad = [WireCodec.delimiter, Data(), Data("{not json".utf8), Data("{}".utf8), Data("{}".utf8), Data("{}".utf8)]
        // The parser's own case rides inside, so the offset of the bad byte is kept.
        XCTAssertThrowsError(try codec.decode(bad)) {
            XCTAssertEqual($0 as? WireError, .badJSON(frame: "header", .unexpectedByte(UInt8(ascii: "n"), offset: 1)))
        }
        let noType = [WireCodec.delimiter, Data(), Data(#"{"msg_id":"x"}"#.utf8), Data("{}".utf8), Data("{}".utf8), Data("{}".utf8)]
        XCTAssertThrowsError(try codec.decode(noType)) {
            XCTAssertEqual($0 as? WireError, .missingHeaderField("msg_type"))
        }
        let numberID = [WireCodec.delimiter, Data(), Data(#"{"msg_id":7,"msg_type":"t"}"#.utf8), Data("{}".utf8), Data("{}".utf8), Data("{}".utf8)]
        XCTAssertThrowsError(try codec.decode(numberID)) {
            XCTAssertEqual($0 as? WireError, .headerFieldNotString("msg_id"))
        }
        let arrayHeader = [WireCodec.delimiter, Data(), Data("[]".utf8), Data("{}".utf8), Data("{}".utf8), Data("{}".utf8)]
        XCTAssertThrowsError(try codec.decode(arrayHeader)) {
            XCTAssertEqual($0 as? WireError, .notAnObject(frame: "header"))
        }
        XCTAssertEqual(WireError.missingHeaderField("msg_type").description,
                       "The message header is invalid: the header has no \"msg_type\" field.")
        XCTAssertEqual(WireError.headerFieldNotString("msg_id").description,
                       "The message header is invalid: the header field \"msg_id\" is not a string.")
        XCTAssertEqual(WireError.badJSON(frame: "header", .unexpectedEnd).description,
                       "The message's header frame is not valid JSON: " + JSONParseError.unexpectedEnd.description)
        let arrayContent = [WireCodec.delimiter, Data(), Data(#"{"msg_id":"x","msg_type":"t"}"#.utf8),
                            Data("{}".utf8), Data("{}".utf8), Data("[1]".utf8)]
        XCTAssertThrowsError(try codec.decode(arrayContent)) {
            XCTAssertEqual($0 as? WireError, .notAnObject(frame: "content"))
        }
    }

    func testTimestampIsISO8601WithMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        XCTAssertEqual(Header.timestamp(date), "2023-11-14T22:13:20.250000Z")
    }

    func testParsesTheTimestampFormsClientsWrite() throws {
        let base = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertEqual(Header.parseTimestamp("2023-11-14T22:13:20Z"), base)
        XCTAssertEqual(try XCTUnwrap(Header.parseTimestamp("2023-11-14T22:13:20.250000Z")).timeIntervalSince1970,
                       1_700_000_000.25, accuracy: 1e-6)
        XCTAssertEqual(Header.parseTimestamp("2023-11-14T23:13:20+01:00"), base)
        XCTAssertEqual(Header.parseTimestamp("2023-11-14T22:13:20"), base, "no zone reads as UTC")
        XCTAssertEqual(Header.parseTimestamp(Header.timestamp(base)), base)
        XCTAssertNil(Header.parseTimestamp(""))
        XCTAssertNil(Header.parseTimestamp("yesterday"))
        XCTAssertNil(Header.parseTimestamp("2023-13-14T22:13:20Z"))
        XCTAssertNil(Header.parseTimestamp("2023-11-14T22:13:20Zjunk"))
    }

    func testReplyCarriesParentHeaderAndIdentities() {
        let request = sample()
        let reply = Message.reply(to: request, msgType: "execute_reply", content: ["status": "ok"], session: "kernel-s")
        XCTAssertEqual(reply.identities, request.identities)
        XCTAssertEqual(reply.parentHeader["msg_id"], "m1")
        XCTAssertEqual(reply.header.session, "kernel-s")
        XCTAssertEqual(reply.header.version, "5.3")
        XCTAssertNotEqual(reply.header.msgID, request.header.msgID)
    }
}
