import PeriscopeKernel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a `LanguageServer` on two file descriptors (stdin and stdout for `periscope lsp`) until
/// `exit` or the end of the input. Returns the process's exit code.
public enum StdioTransport {
    public static func run(input: Int32 = 0, output: Int32 = 1, table: CommandTable = .standard) -> Int32 {
        // A client that goes away must not kill the server mid-write; the write fails and we stop.
        signal(SIGPIPE, SIG_IGN)
        var outputFailed = false
        let server = LanguageServer(table: table) { message in
            guard !outputFailed else { return }
            outputFailed = !writeAll(frame(message), to: output)
        }
        var decoder = FrameDecoder()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                // The input ended without `exit`: 0 only if `shutdown` came first.
                return server.exitCode ?? (server.isShutDown ? 0 : 1)
            }
            decoder.append(chunk[0..<count])
            server.receive(decoder.items())
            if let code = server.exitCode { return code }
            if outputFailed { return 1 }
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            written += n
        }
        return true
    }
}
