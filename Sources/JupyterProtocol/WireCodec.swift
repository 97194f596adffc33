import Foundation

/// Why a multipart message was rejected.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No `<IDS|MSG>` delimiter frame.
    case missingDelimiter
    /// Fewer than the five frames that must follow the delimiter.
    case tooFewFrames(Int)
    /// The HMAC signature does not match the frames.
    case badSignature
    /// One of the four JSON frames does not parse.
    case badJSON(frame: String, JSONParseError)
    /// The header lacks a required field.
    case missingHeaderField(String)
    /// A header field that must be a string is not.
    case headerFieldNotString(String)
    /// A JSON frame that must be an object is not.
    case notAnObject(frame: String)

    public var description: String {
        switch self {
        case .missingDelimiter:
            return "The message has no <IDS|MSG> delimiter frame; it is not a Jupyter wire message."
        case .tooFewFrames(let n):
            return "The message has \(n) frames after <IDS|MSG>; Jupyter needs at least 5 (signature, header, parent_header, metadata, content)."
        case .badSignature:
            return "The message signature does not match; the sender does not hold this kernel's key, or the message was altered."
        case .badJSON(let frame, let error):
            return "The message's \(frame) frame is not valid JSON: \(error.description)"
        case .missingHeaderField(let key):
            return "The message header is invalid: the header has no \"\(key)\" field."
        case .headerFieldNotString(let key):
            return "The message header is invalid: the header field \"\(key)\" is not a string."
        case .notAnObject(let frame):
            return "The message's \(frame) frame must be a JSON object."
        }
    }
}

/// Encodes and decodes the Jupyter multipart wire format:
/// `identities…, <IDS|MSG>, signature, header, parent_header, metadata, content, buffers…`.
public struct WireCodec: Sendable {
    /// The frame that separates routing identities from the message.
    public static let delimiter = Data("<IDS|MSG>".utf8)

    public let signer: Signer

    public init(signer: Signer) { self.signer = signer }

    /// The frames to send for `message`, signed.
    public func encode(_ message: Message) -> [Data] {
        let parts = [
            message.header.json.serializedData(),
            JSONValue.object(message.parentHeader).serializedData(),
            JSONValue.object(message.metadata).serializedData(),
            message.content.serializedData(),
        ]
        let signature = Data(signer.signature(of: parts).utf8)
        return message.identities + [WireCodec.delimiter, signature] + parts + message.buffers
    }

    /// Parses received frames, verifying the signature over the raw bytes as received.
    public func decode(_ frames: [Data]) throws(WireError) -> Message {
        guard let split = frames.firstIndex(of: WireCodec.delimiter) else { throw .missingDelimiter }
        let rest = frames[(split + 1)...]
        guard rest.count >= 5 else { throw .tooFewFrames(rest.count) }
        let base = rest.startIndex
        let signature = frames[base]
        let parts = Array(frames[(base + 1)...(base + 4)])
        guard signer.verify(signature: signature, of: parts) else { throw .badSignature }

        func object(_ data: Data, _ name: String) throws(WireError) -> [String: JSONValue] {
            let value: JSONValue
            do { value = try JSONValue.parse(data) } catch { throw .badJSON(frame: name, error) }
            guard case .object(let o) = value else { throw .notAnObject(frame: name) }
            return o
        }
        let header = try Header(json: .object(try object(parts[0], "header")))
        let parent = try object(parts[1], "parent_header")
        let metadata = try object(parts[2], "metadata")
        let content = try object(parts[3], "content")
        return Message(identities: Array(frames[..<split]), header: header, parentHeader: parent,
                       metadata: metadata, content: .object(content), buffers: Array(frames[(base + 5)...]))
    }
}
