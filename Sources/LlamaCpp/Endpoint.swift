import CLlama
import Foundation

/// Server addresses: parsing, whether they stay inside this machine or a private network, and a
/// handshake made before llama.cpp (which aborts the process on failure, and waits for ever on a
/// server busy with another client) connects.
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

    /// True for loopback (127/8, ::1, localhost) and private ranges (10/8, 172.16/12, 192.168/16),
    /// written as such. Any other name is not: it may resolve anywhere ("10.0.0.1.example.com").
    public static func isLocalOrPrivate(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let fields = host.split(separator: ".", omittingEmptySubsequences: false)
        let octets = fields.compactMap { UInt8($0) }
        guard fields.count == 4, octets.count == 4 else { return false }
        switch (octets[0], octets[1]) {
        case (127, _), (10, _), (192, 168): return true
        case (172, let b): return (16...31).contains(b)
        default: return false
        }
    }

    /// The RPC protocol version this build speaks, "major.minor.patch".
    public static let protocolVersion = "\(RPC_PROTO_MAJOR_VERSION).\(RPC_PROTO_MINOR_VERSION).\(RPC_PROTO_PATCH_VERSION)"

    /// Connects to `endpoint` (TCP, `seconds` at most), says HELLO as llama.cpp's client does and
    /// checks the version in the answer, then closes again (the server goes back to accepting).
    /// A ggml-rpc-server serves one client at a time: one that is serving another stays silent.
    static func handshake(_ endpoint: String, seconds: Int = 5) throws {
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
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw LlamaCppError.unreachable(endpoint: endpoint, reason: String(cString: strerror(errno)))
        }
        // HELLO: the command byte, the request's size (u64) and no transport capabilities.
        var hello: [UInt8] = [helloCommand]
        withUnsafeBytes(of: UInt64(capabilityBytes).littleEndian) { hello += $0 }
        hello += [UInt8](repeating: 0, count: capabilityBytes)
        guard send(fd, hello, hello.count, Int32(MSG_NOSIGNAL)) == hello.count else {
            throw LlamaCppError.unreachable(endpoint: endpoint, reason: String(cString: strerror(errno)))
        }
        // The answer: its size (u64), then major, minor, patch, padding and the capabilities.
        var answer = [UInt8](repeating: 0, count: 8 + 4 + capabilityBytes)
        var got = 0
        while got < answer.count {
            let n = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, $0.count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw LlamaCppError.busy(endpoint: endpoint, seconds: seconds)
            }
            if n <= 0 { break }
            got += n
        }
        let size = answer[0..<8].withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard got >= 12, size == UInt64(4 + capabilityBytes) else {
            // A server of another protocol generation closes on a HELLO of the wrong size.
            throw LlamaCppError.protocolMismatch(endpoint: endpoint, server: got >= 12 ? "an unknown version" : "no answer to HELLO",
                                                 client: protocolVersion)
        }
        let (major, minor, patch) = (Int(answer[8]), Int(answer[9]), Int(answer[10]))
        guard major == Int(RPC_PROTO_MAJOR_VERSION), minor <= Int(RPC_PROTO_MINOR_VERSION) else {
            throw LlamaCppError.protocolMismatch(endpoint: endpoint, server: "\(major).\(minor).\(patch)", client: protocolVersion)
        }
    }

    /// llama.cpp's RPC command number of HELLO (fixed across protocol versions) and the size of
    /// the transport capabilities it carries.
    static let helloCommand: UInt8 = 14
    static let capabilityBytes = 24
}
