import Foundation
import JupyterProtocol

// The base protocol's framing: `Content-Length: N\r\n` (other headers allowed), a blank line,
// then N bytes of UTF-8 JSON. The decoder takes bytes as they arrive and never fails for good:
// whatever it cannot read becomes one `FramingError` and it looks for the next header.

/// Why bytes on the input could not be read as a message frame.
public enum FramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bytes that are not a header stood where a header should start; they were skipped.
    case garbageBeforeHeader(byteCount: Int)
    /// A header block without a `Content-Length` line.
    case missingContentLength(header: String)
    /// A `Content-Length` that is not a non-negative integer.
    case badContentLength(String)
    /// No blank line ended the header within `limit` bytes.
    case headerTooLong(limit: Int)
    /// A message longer than the server accepts; its header was skipped.
    case bodyTooLarge(length: Int, limit: Int)

    public var description: String {
        switch self {
        case .garbageBeforeHeader(let count):
            return "skipped \(count) byte(s) that are not a message header; each message starts with `Content-Length: N` and a blank line (\\r\\n\\r\\n)"
        case .missingContentLength(let header):
            return "the message header \(header.debugDescription) has no Content-Length line"
        case .badContentLength(let value):
            return "Content-Length \(value.debugDescription) is not a byte count"
        case .headerTooLong(let limit):
            return "no blank line (\\r\\n\\r\\n) ended the message header within \(limit) bytes"
        case .bodyTooLarge(let length, let limit):
            return "a message of \(length) bytes is larger than the \(limit) bytes accepted"
        }
    }
}

/// Splits a byte stream into message bodies.
public struct FrameDecoder: Sendable {
    /// A message body, or what was wrong with the bytes skipped instead.
    public enum Item: Sendable, Equatable {
        case message([UInt8])
        case malformed(FramingError)
    }

    public static let headerLimit = 8 * 1024
    public static let bodyLimit = 64 * 1024 * 1024

    private var buffer: [UInt8] = []
    /// Where unread bytes start in `buffer` (dropped in bulk so reading stays linear).
    private var start = 0

    public init() {}

    /// Adds bytes read from the input.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0, start > buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Every item the bytes so far make, in order.
    public mutating func items() -> [Item] {
        var out: [Item] = []
        while let item = next() { out.append(item) }
        return out
    }

    /// The next message or framing error, or nil until more bytes arrive.
    public mutating func next() -> Item? {
        guard start < buffer.count else { return nil }
        // A header starts with a header name; anything else (stray newlines, text) is garbage up to
        // the next `Content-Length`.
        let contentLength = Array("content-length".utf8)
        if !startsWithHeaderName() {
            let skipTo = find(contentLength, from: start + 1, caseInsensitive: true)
            guard let skipTo else {
                // Keep a tail that could be the start of a header split across reads.
                let keep = partialMatchAtEnd(contentLength)
                let dropped = buffer.count - start - keep
                guard dropped > 0 else { return nil }
                start += dropped
                return .malformed(.garbageBeforeHeader(byteCount: dropped))
            }
            let dropped = skipTo - start
            start = skipTo
            return .malformed(.garbageBeforeHeader(byteCount: dropped))
        }

        guard let end = find(Array("\r\n\r\n".utf8), from: start, caseInsensitive: false) else {
            guard buffer.count - start > Self.headerLimit else { return nil }
            start = find(contentLength, from: start + 1, caseInsensitive: true) ?? buffer.count
            return .malformed(.headerTooLong(limit: Self.headerLimit))
        }
        let header = String(decoding: buffer[start..<end], as: UTF8.self)
        let bodyStart = end + 4
        var length: Int?
        for line in header.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard name == "content-length" else { continue }
            guard let n = Int(value), n >= 0 else {
                start = bodyStart
                return .malformed(.badContentLength(value))
            }
            length = n
        }
        guard let length else {
            start = bodyStart
            return .malformed(.missingContentLength(header: header))
        }
        guard length <= Self.bodyLimit else {
            start = bodyStart
            return .malformed(.bodyTooLarge(length: length, limit: Self.bodyLimit))
        }
        guard buffer.count - bodyStart >= length else { return nil }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        start = bodyStart + length
        return .message(body)
    }

    /// True when the unread bytes begin like a header line (`Name:`), or could once more arrive.
    private func startsWithHeaderName() -> Bool {
        var i = start
        while i < buffer.count {
            let b = buffer[i]
            if b == UInt8(ascii: ":") { return i > start }
            let isNameByte = (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-")
            if !isNameByte { return false }
            i += 1
            if i - start > 64 { return false }
        }
        return true
    }

    /// The length of the longest tail of the unread bytes that starts `needle` (case-insensitively).
    private func partialMatchAtEnd(_ needle: [UInt8]) -> Int {
        let available = buffer.count - start
        var length = min(available, needle.count - 1)
        while length > 0 {
            let tail = buffer[(buffer.count - length)...]
            if zip(tail, needle).allSatisfy({ ($0.0 >= 0x41 && $0.0 <= 0x5A ? $0.0 + 32 : $0.0) == $0.1 }) { return length }
            length -= 1
        }
        return 0
    }

    private func find(_ needle: [UInt8], from: Int, caseInsensitive: Bool) -> Int? {
        guard needle.count <= buffer.count - from, from < buffer.count else { return nil }
        func lower(_ b: UInt8) -> UInt8 { caseInsensitive && b >= 0x41 && b <= 0x5A ? b + 32 : b }
        var i = from
        let last = buffer.count - needle.count
        while i <= last {
            var j = 0
            while j < needle.count, lower(buffer[i + j]) == needle[j] { j += 1 }
            if j == needle.count { return i }
            i += 1
        }
        return nil
    }
}

/// One message framed for the output: header, blank line, compact JSON.
public func frame(_ message: JSONValue) -> [UInt8] {
    let body = Array(message.serialized().utf8)
    return Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
}
