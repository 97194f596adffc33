import Foundation

/// Server addresses: parsing, whether they stay inside this machine or a private network, and a
/// connection check made before llama.cpp (which aborts the process on failure) connects.
public enum Endpoint {
    /// Splits "host:port".
    public static func parse(_ text: String) throws -> (host: String, port: UInt16) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            throw LlamaCppError.badEndpoint(text)
        }
        let host = String(text[..<colon])
        guard !host.isEmpty else { throw LlamaCppError.badEndpoint(text) }
        return (host, port)
    }

    /// True for loopback (127/8, ::1, localhost) and private ranges (10/8, 172.16/12, 192.168/16).
    public static func isLocalOrPrivate(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 4 else { return false }
        switch (parts[0], parts[1]) {
        case (127, _), (10, _), (192, 168): return true
        case (172, let b): return (16...31).contains(b)
        default: return false
        }
    }

    /// Connects once to `endpoint` (TCP, 3 s at most) and closes again.
    static func checkReachable(_ endpoint: String) throws {
        let (host, port) = try parse(endpoint)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let info = result else {
            throw LlamaCppError.unreachable(endpoint: endpoint, reason: "the host name does not resolve")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw LlamaCppError.unreachable(endpoint: endpoint, reason: "no socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw LlamaCppError.unreachable(endpoint: endpoint, reason: String(cString: strerror(errno)))
        }
    }
}
