import Foundation

// MARK: - Header

/// A Jupyter message header (messaging protocol 5.3).
///
/// Fields the protocol defines are typed; any others a client sends (for example
/// `subshell_id`) are kept in `extra` so a reply's `parent_header` echoes them.
public struct Header: Sendable, Equatable {
    /// The protocol version this kernel speaks.
    public static let protocolVersion = "5.3"

    public var msgID: String
    public var session: String
    public var username: String
    /// ISO 8601 timestamp, e.g. `2026-11-22T06:09:36.123456Z`.
    public var date: String
    public var msgType: String
    public var version: String
    /// Header fields outside the five above, kept verbatim.
    public var extra: [String: JSONValue]

    public init(msgID: String = Header.newMessageID(), session: String, username: String = "kernel",
                date: String = Header.timestamp(), msgType: String, version: String = Header.protocolVersion,
                extra: [String: JSONValue] = [:]) {
        self.msgID = msgID; self.session = session; self.username = username
        self.date = date; self.msgType = msgType; self.version = version; self.extra = extra
    }

    /// Reads a header object. `msg_id` and `msg_type` are required; the rest default to "".
    public init(json: JSONValue) throws(WireError) {
        guard case .object(var o) = json else { throw .notAnObject(frame: "header") }
        func take(_ key: String, required: Bool) throws(WireError) -> String {
            switch o.removeValue(forKey: key) {
            case .string(let s)?: return s
            case nil where !required: return ""
            case nil: throw .missingHeaderField(key)
            case .some: throw .headerFieldNotString(key)
            }
        }
        msgID = try take("msg_id", required: true)
        msgType = try take("msg_type", required: true)
        session = try take("session", required: false)
        username = try take("username", required: false)
        date = try take("date", required: false)
        version = try take("version", required: false)
        extra = o
    }

    /// The header as a JSON object.
    public var json: JSONValue {
        var o = extra
        o["msg_id"] = .string(msgID)
        o["session"] = .string(session)
        o["username"] = .string(username)
        o["date"] = .string(date)
        o["msg_type"] = .string(msgType)
        o["version"] = .string(version)
        return .object(o)
    }

    /// `date` read as an instant, or nil when it is missing or not ISO 8601
    /// (`YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`; no zone means UTC).
    public var parsedDate: Date? { Header.parseTimestamp(date) }

    /// Parses the ISO 8601 forms Jupyter clients write.
    public static func parseTimestamp(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 19, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 { fraction += Double(b[i] - 48) * scale; scale /= 10; i += 1 }
        }
        var offset = 0
        if i < b.count {
            switch b[i] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"): i += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard let h = number(i + 1, 2) else { return nil }
                let colon = i + 3 < b.count && b[i + 3] == UInt8(ascii: ":") ? 1 : 0
                let m = number(i + 3 + colon, 2) ?? 0
                offset = (h * 3600 + m * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
                i = min(b.count, i + 5 + colon)
            default: return nil
            }
        }
        guard i == b.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }

    /// A fresh message id (a lowercase UUID).
    public static func newMessageID() -> String { UUID().uuidString.lowercased() }

    /// Now, as ISO 8601 UTC with microseconds (the form jupyter_client writes).
    public static func timestamp(_ date: Date = Date()) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        var micros = Int(((seconds - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 { micros -= 1_000_000; whole += 1 }
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
            + ".\(pad(micros, 6))Z"
    }
}

// MARK: - Message

/// One Jupyter message: routing identities, header, parent header, metadata, content, buffers.
public struct Message: Sendable, Equatable {
    /// ZeroMQ routing identities (the frames before `<IDS|MSG>`); replies carry the request's.
    public var identities: [Data]
    public var header: Header
    /// The parent's header as received (an empty object when there is no parent).
    public var parentHeader: [String: JSONValue]
    public var metadata: [String: JSONValue]
    public var content: JSONValue
    public var buffers: [Data]

    public init(identities: [Data] = [], header: Header, parentHeader: [String: JSONValue] = [:],
                metadata: [String: JSONValue] = [:], content: JSONValue = .object([:]), buffers: [Data] = []) {
        self.identities = identities; self.header = header; self.parentHeader = parentHeader
        self.metadata = metadata; self.content = content; self.buffers = buffers
    }

    /// `header.msgType`.
    public var msgType: String { header.msgType }

    /// A new message of `msgType` whose parent is `parent`, addressed to the parent's identities.
    public static func reply(to parent: Message, msgType: String, content: JSONValue, session: String,
                             username: String = "kernel", metadata: [String: JSONValue] = [:]) -> Message {
        Message(identities: parent.identities,
                header: Header(session: session, username: username, msgType: msgType),
                parentHeader: parent.header.objectValue, metadata: metadata, content: content)
    }
}

extension Header {
    /// The header as a dictionary (for `parent_header`).
    public var objectValue: [String: JSONValue] { json.objectValue ?? [:] }
}
