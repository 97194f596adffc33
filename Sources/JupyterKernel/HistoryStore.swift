import Foundation
import JupyterProtocol

/// Executed cells, kept as JSON lines so they survive kernel restarts (like IPython's history
/// database). Each kernel start is a new session number, one more than the largest on file.
///
/// File format, one object per line: `{"session": 3}` marks a session start;
/// `{"session": 3, "line": 7, "source": "run p"}` is a cell.
public final class HistoryStore: @unchecked Sendable {
    /// One stored cell.
    public struct Entry: Sendable, Equatable {
        public var session: Int
        public var line: Int
        public var source: String
        public init(session: Int, line: Int, source: String) {
            self.session = session; self.line = line; self.source = source
        }
    }

    /// This kernel's session number.
    public let session: Int
    /// Where entries are appended, or nil to keep history in memory only.
    public let fileURL: URL?
    /// Cells of earlier sessions, read from the file on first use (start-up stays fast however
    /// long the history grows).
    private var earlier: [Entry]?
    /// Cells of this session.
    private var current: [Entry] = []
    private let lock = NSLock()

    /// `$PERISCOPE_HOME/history.jsonl`, with PERISCOPE_HOME defaulting to `~/.cache/periscope`.
    public static func defaultURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let home: URL
        if let custom = environment["PERISCOPE_HOME"], !custom.isEmpty {
            home = URL(fileURLWithPath: custom)
        } else {
            home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/periscope")
        }
        return home.appendingPathComponent("history.jsonl")
    }

    /// Opens (or creates) the history file and starts a new session. Unreadable lines are skipped;
    /// if the file cannot be written, history is kept in memory and a warning is logged.
    public init(fileURL: URL?) {
        self.fileURL = fileURL
        guard let fileURL else {
            session = 1
            earlier = []
            return
        }
        // Reading the last session and writing the next one's marker happen under one lock, so
        // kernels starting together take different numbers.
        var claimed = 0
        let written = Self.withLockedFile(fileURL) { fd in
            claimed = Self.lastSession(in: fileURL) + 1
            try Self.append(Self.encode(["session": .int(claimed)]), to: fd)
        }
        session = written ? claimed : Self.lastSession(in: fileURL) + 1
    }

    /// Records one executed cell of this session.
    public func append(line: Int, source: String) {
        lock.lock()
        current.append(Entry(session: session, line: line, source: source))
        lock.unlock()
        appendRecord(["session": .int(session), "line": .int(line), "source": .string(source)])
    }

    /// All entries, oldest first.
    public var all: [Entry] {
        lock.lock(); defer { lock.unlock() }
        if earlier == nil, let fileURL {
            earlier = Self.records(in: (try? Data(contentsOf: fileURL)) ?? Data())
                .compactMap { record in
                    guard record.session < session, let line = record.line, let source = record.source else { return nil }
                    return Entry(session: record.session, line: line, source: source)
                }
        }
        return (earlier ?? []) + current
    }

    // MARK: - File reading

    /// The largest session number on file. Sessions are claimed under the file lock, so their
    /// start markers (`{"session": N}`) appear in increasing order; cells of older sessions still
    /// running may come after the newest marker. The file is read backwards in growing windows
    /// until one holds a marker, and the largest session of everything read is the answer (this
    /// also counts a session whose marker line was torn). Start-up stays fast however long the
    /// history grows.
    private static func lastSession(in url: URL) -> Int {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return 0 }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        var window: UInt64 = 64 * 1024
        while true {
            let whole = window >= size
            try? handle.seek(toOffset: whole ? 0 : size - window)
            let tail = (try? handle.readToEnd()) ?? Data()
            // Unless the window starts the file, its first line may be cut; drop it.
            let cut = whole ? tail.startIndex
                : tail.firstIndex(of: UInt8(ascii: "\n")).map { tail.index(after: $0) } ?? tail.endIndex
            let found = records(in: tail[cut...])
            if whole || found.contains(where: { $0.line == nil }) {
                return found.map(\.session).max() ?? 0
            }
            window *= 4
        }
    }

    /// The readable records of a JSON-lines buffer; damaged lines are skipped.
    private static func records(in data: Data) -> [(session: Int, line: Int?, source: String?)] {
        var out: [(session: Int, line: Int?, source: String?)] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let value = try? JSONValue.parse(Data(line)), let s = value["session"]?.intValue else { continue }
            out.append((s, value["line"]?.intValue, value["source"]?.stringValue))
        }
        return out
    }

    // MARK: - Queries (history_request)

    /// The last `n` entries over all sessions, oldest first.
    public func tail(_ n: Int) -> [Entry] {
        let e = all
        return Array(e.suffix(max(0, n)))
    }

    /// Entries of one session with `start <= line < stop` (stop nil: to the end).
    /// `session` <= 0 counts back from the current one (0 is this session, -1 the previous), as IPython does.
    public func range(session requested: Int, start: Int, stop: Int?) -> [Entry] {
        let s = requested <= 0 ? session + requested : requested
        return all.filter { entry in entry.session == s && entry.line >= start && (stop.map { entry.line < $0 } ?? true) }
    }

    /// This session's entries whose source matches the glob `pattern` (`*`, `?`, `[...]`;
    /// case-sensitive, whole source), oldest first; the last `n` when given; with `unique`, only
    /// the latest of equal sources.
    ///
    /// Search stays within the session so its answer depends on this notebook's cells only, not on
    /// whatever else was ever typed on this machine; `tail` and `range` reach earlier sessions.
    public func search(pattern: String, n: Int?, unique: Bool) -> [Entry] {
        var matches = all.filter { $0.session == session && Glob.matches(pattern, $0.source) }
        if unique {
            var seen = Set<String>()
            var kept: [Entry] = []
            for entry in matches.reversed() where seen.insert(entry.source).inserted { kept.append(entry) }
            matches = kept.reversed()
        }
        if let n, n > 0 { matches = Array(matches.suffix(n)) }
        return matches
    }

    // MARK: - File

    private func appendRecord(_ record: [String: JSONValue]) {
        guard let fileURL else { return }
        let line = Self.encode(record)
        Self.withLockedFile(fileURL) { fd in try Self.append(line, to: fd) }
    }

    private static func encode(_ record: [String: JSONValue]) -> Data {
        Data((JSONValue.object(record).serialized() + "\n").utf8)
    }

    /// Runs `body` with the history file open for appending and locked against the other kernels
    /// sharing it (an exclusive `flock`, released when the descriptor closes, also when a kernel
    /// dies). Returns false, with a warning logged, when the file cannot be opened or written.
    @discardableResult
    private static func withLockedFile(_ url: URL, _ body: (Int32) throws -> Void) -> Bool {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let fd = open(url.path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            defer { close(fd) }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            }
            try body(fd)
            return true
        } catch {
            KernelLog.warning("cannot write history to \(url.path) (\(error)); history of this session stays in memory.")
            return false
        }
    }

    /// Appends one whole line. A file that does not end in a newline holds the torn last line of a
    /// kernel killed mid-write; a newline first closes it off, so it stays one unreadable line
    /// (skipped on read) instead of swallowing this record.
    private static func append(_ line: Data, to fd: Int32) throws {
        var bytes = line
        let size = lseek(fd, 0, SEEK_END)
        if size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, size - 1) == 1, last != UInt8(ascii: "\n") {
                bytes.insert(UInt8(ascii: "\n"), at: 0)
            }
        }
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                offset += n
            }
        }
    }
}

/// Shell-style glob matching, the way SQLite's GLOB (used by IPython's history search) matches.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
        // Iterative matcher with backtracking to the last `*`.
        var pi = 0, ti = 0, starP = -1, starT = 0
        while ti < t.count {
            if pi < p.count {
                switch p[pi] {
                case "*":
                    starP = pi; starT = ti; pi += 1; continue
                case "?":
                    pi += 1; ti += 1; continue
                case "[":
                    if let (matched, next) = matchClass(p, pi, t[ti]) {
                        if matched { pi = next; ti += 1; continue }
                    } else if t[ti] == "[" {
                        pi += 1; ti += 1; continue
                    }
                default:
                    if p[pi] == t[ti] { pi += 1; ti += 1; continue }
                }
            }
            guard starP >= 0 else { return false }
            pi = starP + 1; starT += 1; ti = starT
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Matches a `[...]` class at `p[start]`; nil when the bracket is unterminated (then it is literal).
    private static func matchClass(_ p: [Unicode.Scalar], _ start: Int, _ c: Unicode.Scalar) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count, p[i] == "^" || p[i] == "!" { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.count, p[i] != "]" || first {
            first = false
            if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                if p[i] <= c && c <= p[i + 2] { matched = true }
                i += 3
            } else {
                if p[i] == c { matched = true }
                i += 1
            }
        }
        guard i < p.count else { return nil }
        return (matched != negate, i + 1)
    }
}
