import CZeroMQ
import Foundation
import XCTest
import JupyterKernel
import JupyterKernelTesting
import JupyterProtocol
@testable import JupyterZMQ

/// End to end over real libzmq sockets on 127.0.0.1: a DEALER client on shell and control,
/// a SUB on iopub and a REQ on heartbeat, against `ZMQKernelServer` serving the tiny interpreter.
final class ZMQServerTests: XCTestCase {
    /// A minimal client socket for the tests.
    final class ClientSocket {
        let handle: UnsafeMutableRawPointer
        init(_ context: UnsafeMutableRawPointer, _ type: Int32, _ endpoint: String, subscribe: Bool = false) throws {
            handle = try XCTUnwrap(zmq_socket(context, type))
            var linger: Int32 = 0
            zmq_setsockopt(handle, ZMQ_LINGER, &linger, 4)
            // A send with no live peer (a plain client whose CURVE handshake was refused and whose
            // pipe is being torn down) would otherwise block for ever and hang the suite.
            var sendTimeout: Int32 = 2000
            zmq_setsockopt(handle, ZMQ_SNDTIMEO, &sendTimeout, 4)
            if subscribe { zmq_setsockopt(handle, ZMQ_SUBSCRIBE, "", 0) }
            XCTAssertEqual(zmq_connect(handle, endpoint), 0)
        }
        func send(_ frames: [Data]) {
            for (i, f) in frames.enumerated() {
                _ = f.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, i < frames.count - 1 ? ZMQ_SNDMORE : 0) }
            }
        }
        /// Receives one multipart message, or nil after `timeout` seconds.
        func receive(timeout: Double) -> [Data]? {
            var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            guard zmq_poll(&item, 1, Int(timeout * 1000)) > 0 else { return nil }
            var frames: [Data] = []
            while true {
                var msg = zmq_msg_t()
                zmq_msg_init(&msg)
                defer { zmq_msg_close(&msg) }
                guard zmq_msg_recv(&msg, handle, 0) >= 0 else { return nil }
                frames.append(Data(bytes: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))
                if zmq_msg_more(&msg) == 0 { return frames }
            }
        }
        deinit { zmq_close(handle) }
    }

    func testKernelInfoExecuteAndMisSignedRequestOverRealSockets() throws {
        let key = "test-key-\(UUID().uuidString)"
        let started = Date()
        let server = try ZMQKernelServer(connection: ConnectionInfo(
            shellPort: 0, iopubPort: 0, stdinPort: 0, controlPort: 0, hbPort: 0, key: key))
        let interpreter = TinyInterpreter()
        let core = KernelCore(interpreter: interpreter, server: server, history: HistoryStore(fileURL: nil))
        let result = ResultBox()
        let serving = Thread { result.set(server.run(core: core)) }
        serving.start()
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.2, "binding must be fast")
        let info = server.connection
        XCTAssertNotEqual(info.shellPort, 0, "port 0 is replaced by the bound port")

        let context = try XCTUnwrap(zmq_ctx_new())
        defer { zmq_ctx_term(context) }
        let codec = WireCodec(signer: Signer(key: key))
        do {
            let iopub = try ClientSocket(context, ZMQ_SUB, info.endpoint(for: .iopub), subscribe: true)
            let shell = try ClientSocket(context, ZMQ_DEALER, info.endpoint(for: .shell))
            let control = try ClientSocket(context, ZMQ_DEALER, info.endpoint(for: .control))
            let heartbeat = try ClientSocket(context, ZMQ_REQ, info.endpoint(for: .hb))

            // JEP 65: the subscription is answered with a signed iopub_welcome.
            let welcome = try codec.decode(try XCTUnwrap(iopub.receive(timeout: 5), "no iopub_welcome"))
            XCTAssertEqual(welcome.msgType, "iopub_welcome")
            XCTAssertEqual(welcome.content["subscription"], "")

            func roundTrip(_ socket: ClientSocket, _ message: Message) throws -> Message {
                socket.send(codec.encode(message))
                return try codec.decode(try XCTUnwrap(socket.receive(timeout: 5), "no reply to \(message.msgType)"))
            }
            func iopubUntilIdle(parent: String) throws -> [Message] {
                var seen: [Message] = []
                while let frames = iopub.receive(timeout: 5) {
                    let m = try codec.decode(frames)
                    guard m.parentHeader["msg_id"]?.stringValue == parent else { continue }
                    seen.append(m)
                    if m.msgType == "status", m.content["execution_state"] == "idle" { return seen }
                }
                XCTFail("no idle status for \(parent)")
                return seen
            }

            let infoReply = try roundTrip(shell, request("kernel_info_request", id: "ki"))
            XCTAssertEqual(infoReply.msgType, "kernel_info_reply")
            XCTAssertEqual(infoReply.content["protocol_version"], "5.3")
            XCTAssertEqual(try iopubUntilIdle(parent: "ki").map { $0.content["execution_state"]?.stringValue }, ["busy", "idle"])

            let executeReply = try roundTrip(shell, request("execute_request", ["code": "hello"], id: "ex"))
            XCTAssertEqual(executeReply.content["status"], "ok")
            XCTAssertEqual(executeReply.content["execution_count"], 1)
            XCTAssertEqual(try iopubUntilIdle(parent: "ex").map(\.msgType), ["status", "execute_input", "execute_result", "status"])

            // A request signed with another key is dropped: no reply, never executed.
            let forged = WireCodec(signer: Signer(key: "wrong")).encode(request("execute_request", ["code": "print evil"]))
            shell.send(forged)
            XCTAssertNil(shell.receive(timeout: 0.5))
            // Replaying a correctly signed message is refused as well.
            let replayed = codec.encode(request("execute_request", ["code": "print once"], id: "once"))
            shell.send(replayed)
            XCTAssertNotNil(shell.receive(timeout: 5))
            shell.send(replayed)
            XCTAssertNil(shell.receive(timeout: 0.5))
            XCTAssertEqual(interpreter.executed, ["hello", "print once"])

            // Control answers while a cell runs on shell, and the interrupt stops the cell.
            shell.send(codec.encode(request("execute_request", ["code": "wait"], id: "w")))
            Thread.sleep(forTimeInterval: 0.1)
            let t0 = Date()
            let interruptReply = try roundTrip(control, request("interrupt_request"))
            XCTAssertEqual(interruptReply.content["status"], "ok")
            let waitReply = try codec.decode(try XCTUnwrap(shell.receive(timeout: 5)))
            XCTAssertEqual(waitReply.content["ename"], "Interrupted")
            XCTAssertLessThan(Date().timeIntervalSince(t0), 0.2, "interrupt must land within 200 ms")

            // Heartbeat echoes.
            heartbeat.send([Data("ping".utf8)])
            XCTAssertEqual(heartbeat.receive(timeout: 5), [Data("ping".utf8)])

            let shutdown = try roundTrip(control, request("shutdown_request", ["restart": true]))
            XCTAssertEqual(shutdown.content["restart"], true)
        }
        let deadline = Date().addingTimeInterval(5)
        while result.value == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(result.value, .restart)
    }

    /// Starts a server for `connection` on a background thread; returns it with its result box.
    private func serve(_ connection: ConnectionInfo) throws -> (ZMQKernelServer, ResultBox) {
        let server = try ZMQKernelServer(connection: connection)
        let core = KernelCore(interpreter: TinyInterpreter(), server: server, history: HistoryStore(fileURL: nil))
        let result = ResultBox()
        Thread { result.set(server.run(core: core)) }.start()
        return (server, result)
    }

    private func waitForStop(_ result: ResultBox) {
        let deadline = Date().addingTimeInterval(5)
        while result.value == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }

    func testIPCTransport() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pk-\(UUID().uuidString.prefix(8))").path
        let (server, result) = try serve(ConnectionInfo(transport: .ipc, ip: base, shellPort: 1, iopubPort: 2,
                                                        stdinPort: 3, controlPort: 4, hbPort: 5, key: "ipc-key"))
        let codec = WireCodec(signer: Signer(key: "ipc-key"))
        let context = try XCTUnwrap(zmq_ctx_new())
        defer { zmq_ctx_term(context) }
        do {
            XCTAssertEqual(server.connection.endpoint(for: .shell), "ipc://\(base)-1")
            let control = try ClientSocket(context, ZMQ_DEALER, server.connection.endpoint(for: .control))
            control.send(codec.encode(request("kernel_info_request")))
            let reply = try codec.decode(try XCTUnwrap(control.receive(timeout: 5), "no reply over ipc"))
            XCTAssertEqual(reply.content["language_info"]?["name"], "tiny")
            control.send(codec.encode(request("shutdown_request", ["restart": false])))
            XCTAssertNotNil(control.receive(timeout: 5))
        }
        waitForStop(result)
        XCTAssertEqual(result.value, .shutdown)
    }

    func testCurveEncryptionAcceptsKeyHoldersOnly() throws {
        var publicKey = [CChar](repeating: 0, count: 41), secretKey = [CChar](repeating: 0, count: 41)
        XCTAssertEqual(zmq_curve_keypair(&publicKey, &secretKey), 0, "libzmq must be built with CURVE")
        let serverPublic = String(cString: publicKey), serverSecret = String(cString: secretKey)
        let (server, result) = try serve(ConnectionInfo(shellPort: 0, iopubPort: 0, stdinPort: 0, controlPort: 0, hbPort: 0,
                                                        key: "curve-key", curvePublicKey: serverPublic, curveSecretKey: serverSecret))
        let codec = WireCodec(signer: Signer(key: "curve-key"))
        let context = try XCTUnwrap(zmq_ctx_new())
        defer { zmq_ctx_term(context) }
        do {
            let endpoint = server.connection.endpoint(for: .control)
            // A plain-text client cannot talk to a CURVE server.
            let plain = try ClientSocket(context, ZMQ_DEALER, endpoint)
            plain.send(codec.encode(request("kernel_info_request")))
            XCTAssertNil(plain.receive(timeout: 0.5))

            // A client that knows the server's public key (as jupyter_client does, reusing the pair).
            let secure = try XCTUnwrap(zmq_socket(context, ZMQ_DEALER))
            defer { zmq_close(secure) }
            var linger: Int32 = 0
            zmq_setsockopt(secure, ZMQ_LINGER, &linger, 4)
            for (option, key) in [(ZMQ_CURVE_SERVERKEY, serverPublic), (ZMQ_CURVE_PUBLICKEY, serverPublic), (ZMQ_CURVE_SECRETKEY, serverSecret)] {
                XCTAssertEqual(zmq_setsockopt(secure, option, key, 40), 0)
            }
            XCTAssertEqual(zmq_connect(secure, endpoint), 0)
            for (i, frame) in codec.encode(request("kernel_info_request", id: "c1")).enumerated() {
                _ = frame.withUnsafeBytes { zmq_send(secure, $0.baseAddress, $0.count, i < 6 ? ZMQ_SNDMORE : 0) }
            }
            var item = zmq_pollitem_t(socket: secure, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            XCTAssertEqual(zmq_poll(&item, 1, 5000), 1, "no encrypted reply")
            var frames: [Data] = []
            repeat {
                var msg = zmq_msg_t()
                zmq_msg_init(&msg)
                defer { zmq_msg_close(&msg) }
                guard zmq_msg_recv(&msg, secure, 0) >= 0 else { break }
                frames.append(Data(bytes: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))
                if zmq_msg_more(&msg) == 0 { break }
            } while true
            XCTAssertEqual(try codec.decode(frames).parentHeader["msg_id"], "c1")
        }
        server.requestStop()
        waitForStop(result)
        XCTAssertEqual(result.value, .shutdown)
    }

    func testSigintInterruptsThroughTheSignalThread() throws {
        let signals = SignalInterrupts.shared
        signals.install()
        let fired = ResultBox()
        signals.setTarget { fired.set(.shutdown) }
        defer { signals.setTarget(nil) }
        let waiter = try XCTUnwrap(signals.waiter)
        // Directed at the waiting thread so no other thread of the test process can take it.
        XCTAssertEqual(pthread_kill(waiter, SIGINT), 0)
        let deadline = Date().addingTimeInterval(2)
        while fired.value == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(fired.value, .shutdown)
    }

    func testSigintOnAThreadWithoutTheMaskIsForwardedNotFatal() throws {
        let signals = SignalInterrupts.shared
        signals.install()
        let fired = ResultBox()
        signals.setTarget { fired.set(.restart) }
        defer { signals.setTarget(nil) }
        // A thread that unblocks SIGINT (like a BLAS worker started before install) and gets one.
        let thread = Thread {
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            pthread_kill(pthread_self(), SIGINT)
        }
        thread.start()
        let deadline = Date().addingTimeInterval(2)
        while fired.value == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(fired.value, .restart, "the handler must hand the signal to the waiting thread")
    }

    /// A connection file that cannot be read keeps its own case (with the path) inside the
    /// server's error, and its sentence.
    func testAnUnreadableConnectionFileKeepsItsCase() {
        let path = NSTemporaryDirectory() + "periscope-no-such-kernel-\(getpid()).json"
        XCTAssertThrowsError(try serveKernel(connectionFile: path, interpreter: TinyInterpreter())) { error in
            guard case .connectionFile(let inner)? = error as? ZMQKernelError, case .unreadable(let named, _) = inner else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(named, path)
            XCTAssertEqual("\(error)", inner.description)
            XCTAssertTrue(inner.description.hasPrefix("Cannot read the connection file \(path) ("), inner.description)
        }
    }

    func testBindFailureIsReportedClearly() throws {
        let first = try ZMQKernelServer(connection: ConnectionInfo(shellPort: 0, iopubPort: 0, stdinPort: 0, controlPort: 0, hbPort: 0))
        let taken = first.connection.shellPort
        XCTAssertThrowsError(try ZMQKernelServer(connection: ConnectionInfo(
            shellPort: taken, iopubPort: 0, stdinPort: 0, controlPort: 0, hbPort: 0))) { error in
            XCTAssertTrue("\(error)".contains("\(taken)"), "\(error)")
        }
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: ShutdownReason?
    var value: ShutdownReason? { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ v: ShutdownReason) { lock.lock(); stored = v; lock.unlock() }
}
