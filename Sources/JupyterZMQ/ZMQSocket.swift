import CZeroMQ
import Foundation
import JupyterProtocol

/// Why the ZeroMQ side of the kernel could not start or run.
public enum ZMQKernelError: Error, CustomStringConvertible {
    /// The connection file Jupyter passed cannot be used.
    case connectionFile(ConnectionFileError)
    case context
    case socket(String)
    case bind(endpoint: String, reason: String)
    case option(name: String, reason: String)
    case curveUnavailable

    public var description: String {
        switch self {
        case .connectionFile(let error): return error.description
        case .context: return "ZeroMQ could not create a context; the process may be out of file descriptors."
        case .socket(let reason): return "ZeroMQ could not create a socket (\(reason))."
        case .bind(let endpoint, let reason):
            return "Cannot bind \(endpoint) (\(reason)); another process may be using the port, or the ipc path is not writable."
        case .option(let name, let reason): return "Cannot set the ZeroMQ option \(name) (\(reason))."
        case .curveUnavailable:
            return "The connection file asks for CurveZMQ encryption, but this libzmq was built without CURVE (libsodium); install a libzmq with CURVE support."
        }
    }
}

/// The text of the last ZeroMQ error.
func zmqErrorText() -> String { String(cString: zmq_strerror(zmq_errno())) }

/// A thin owner of one ZeroMQ socket. ZeroMQ sockets are not thread-safe: each is used by
/// one thread at a time (callers arrange that; see `ZMQKernelServer`).
final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    let name: String

    init(context: UnsafeMutableRawPointer, type: Int32, name: String) throws(ZMQKernelError) {
        guard let h = zmq_socket(context, type) else { throw .socket(zmqErrorText()) }
        handle = h
        self.name = name
    }

    func set(_ option: Int32, _ value: Int32, name: String) throws(ZMQKernelError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw .option(name: name, reason: zmqErrorText())
        }
    }

    func set(_ option: Int32, _ value: String, name: String) throws(ZMQKernelError) {
        let bytes = Array(value.utf8)
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw .option(name: name, reason: zmqErrorText()) }
    }

    func bind(_ endpoint: String) throws(ZMQKernelError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw .bind(endpoint: endpoint, reason: zmqErrorText()) }
    }

    /// The endpoint last bound (with the real port when bound to `*`).
    func lastEndpoint() -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return nil }
        return String(cString: buffer)
    }

    func connect(_ endpoint: String) throws(ZMQKernelError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw .bind(endpoint: endpoint, reason: zmqErrorText()) }
    }

    /// Sends all frames as one multipart message. Returns false if ZeroMQ refused (logged by caller).
    @discardableResult
    func send(_ frames: [Data], dontWait: Bool = false) -> Bool {
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            var rc: Int32
            repeat {
                rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 { return false }
        }
        return true
    }

    /// Receives one multipart message; nil when none is waiting (with `dontWait`) or on error.
    func receive(dontWait: Bool = false) -> [Data]? {
        var frames: [Data] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            var rc: Int32
            repeat {
                rc = zmq_msg_recv(&msg, handle, dontWait ? ZMQ_DONTWAIT : 0)
            } while rc < 0 && zmq_errno() == EINTR && frames.isEmpty == false
            if rc < 0 {
                // EINTR before the first frame, EAGAIN or ETERM: nothing received.
                return frames.isEmpty ? nil : frames
            }
            if let data = zmq_msg_data(&msg) {
                frames.append(Data(bytes: data, count: zmq_msg_size(&msg)))
            } else {
                frames.append(Data())
            }
            if zmq_msg_more(&msg) == 0 { return frames }
        }
    }

    func close(lingerMilliseconds: Int32) {
        var linger = lingerMilliseconds
        zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_close(handle)
    }
}

/// Waits until one of `sockets` is readable or `timeoutMilliseconds` pass; retries on EINTR.
/// Returns which sockets are readable.
func poll(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) -> [Bool] {
    var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    var rc: Int32
    repeat {
        rc = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
    } while rc < 0 && zmq_errno() == EINTR
    if rc <= 0 { return Array(repeating: false, count: sockets.count) }
    return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
}
