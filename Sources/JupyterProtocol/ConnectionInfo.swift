import Foundation

/// Why a connection file could not be used.
public enum ConnectionFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidJSON(JSONParseError)
    /// The file's JSON is not an object at the top level.
    case notAnObject
    case missingField(String)
    case wrongType(field: String, expected: String)
    case unsupportedTransport(String)
    case unsupportedSignatureScheme(String)
    case badCurveKey(field: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "Cannot read the connection file \(path) (\(reason)); check the path Jupyter passed to the kernel."
        case .invalidJSON(let error):
            return "The connection file is not valid JSON: \(error.description)"
        case .notAnObject:
            return "The connection file is not valid JSON: the top level is not an object."
        case .missingField(let name):
            return "The connection file has no \"\(name)\" field; Jupyter writes it, so the file may be truncated."
        case .wrongType(let field, let expected):
            return "The connection file field \"\(field)\" should be \(expected)."
        case .unsupportedTransport(let t):
            return "The connection file asks for transport \"\(t)\"; this kernel supports \"tcp\" and \"ipc\"."
        case .unsupportedSignatureScheme(let s):
            return "The connection file asks for signature scheme \"\(s)\"; this kernel supports \"hmac-sha256\"."
        case .badCurveKey(let field):
            return "The connection file field \"\(field)\" is not a 40-character Z85 CurveZMQ key."
        }
    }
}

/// The five channels a kernel binds.
public enum Channel: String, Sendable, CaseIterable {
    case shell, iopub, stdin, control, hb
}

/// The contents of a Jupyter connection file (as jupyter_client's `write_connection_file` writes it).
public struct ConnectionInfo: Sendable, Equatable {
    public enum Transport: String, Sendable { case tcp, ipc }

    public var transport: Transport
    public var ip: String
    public var shellPort: Int
    public var iopubPort: Int
    public var stdinPort: Int
    public var controlPort: Int
    public var hbPort: Int
    public var key: String
    public var signatureScheme: String
    public var kernelName: String?
    /// CurveZMQ server keys, Z85 text (40 characters), present when transport encryption is on.
    public var curvePublicKey: String?
    public var curveSecretKey: String?

    public init(transport: Transport = .tcp, ip: String = "127.0.0.1", shellPort: Int, iopubPort: Int,
                stdinPort: Int, controlPort: Int, hbPort: Int, key: String = "",
                signatureScheme: String = "hmac-sha256", kernelName: String? = nil,
                curvePublicKey: String? = nil, curveSecretKey: String? = nil) {
        self.transport = transport; self.ip = ip; self.shellPort = shellPort; self.iopubPort = iopubPort
        self.stdinPort = stdinPort; self.controlPort = controlPort; self.hbPort = hbPort; self.key = key
        self.signatureScheme = signatureScheme; self.kernelName = kernelName
        self.curvePublicKey = curvePublicKey; self.curveSecretKey = curveSecretKey
    }

    /// Reads and parses a connection file.
    public init(contentsOfFile path: String) throws(ConnectionFileError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(json: data)
    }

    /// Parses connection-file JSON.
    public init(json data: Data) throws(ConnectionFileError) {
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch { throw .invalidJSON(error) }
        guard case .object(let o) = value else { throw .notAnObject }

        func string(_ k: String, default d: String? = nil) throws(ConnectionFileError) -> String {
            switch o[k] {
            case .string(let s)?: return s
            case nil, .null?: if let d { return d }; throw .missingField(k)
            default: throw .wrongType(field: k, expected: "a string")
            }
        }
        func port(_ k: String) throws(ConnectionFileError) -> Int {
            guard let v = o[k] else { throw .missingField(k) }
            guard let p = v.intValue, (0...65535).contains(p) else {
                throw .wrongType(field: k, expected: "a port number between 0 and 65535")
            }
            return p
        }
        func optionalString(_ k: String) throws(ConnectionFileError) -> String? {
            switch o[k] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw .wrongType(field: k, expected: "a string")
            }
        }
        let transportName = try string("transport", default: "tcp")
        guard let transport = Transport(rawValue: transportName) else { throw .unsupportedTransport(transportName) }
        let scheme = try string("signature_scheme", default: "hmac-sha256")
        guard scheme == "hmac-sha256" else { throw .unsupportedSignatureScheme(scheme) }

        self.transport = transport
        self.ip = try string("ip", default: transport == .tcp ? "127.0.0.1" : "kernel-ipc")
        self.shellPort = try port("shell_port")
        self.iopubPort = try port("iopub_port")
        self.stdinPort = try port("stdin_port")
        self.controlPort = try port("control_port")
        self.hbPort = try port("hb_port")
        self.key = try string("key", default: "")
        self.signatureScheme = scheme
        self.kernelName = try optionalString("kernel_name")
        self.curvePublicKey = try optionalString("curve_publickey")
        self.curveSecretKey = try optionalString("curve_secretkey")
        for (field, key) in [("curve_publickey", curvePublicKey), ("curve_secretkey", curveSecretKey)] {
            if let key, !Self.isZ85Key(key) { throw .badCurveKey(field: field) }
        }
        // Curve needs both halves; one alone is a broken file, not "encryption off".
        if (curvePublicKey == nil) != (curveSecretKey == nil) {
            throw .missingField(curvePublicKey == nil ? "curve_publickey" : "curve_secretkey")
        }
    }

    /// True when the file carries a CurveZMQ key pair.
    public var usesCurve: Bool { curveSecretKey != nil && curvePublicKey != nil }

    public func port(for channel: Channel) -> Int {
        switch channel {
        case .shell: return shellPort
        case .iopub: return iopubPort
        case .stdin: return stdinPort
        case .control: return controlPort
        case .hb: return hbPort
        }
    }

    /// The ZeroMQ endpoint for `channel`: `tcp://ip:port` or `ipc://ip-port` (jupyter_client's form).
    public func endpoint(for channel: Channel) -> String {
        switch transport {
        case .tcp:
            let host = ip.contains(":") && !ip.hasPrefix("[") ? "[\(ip)]" : ip
            return "tcp://\(host):\(port(for: channel))"
        case .ipc: return "ipc://\(ip)-\(port(for: channel))"
        }
    }

    /// The HMAC signer for this connection's key.
    public var signer: Signer { Signer(key: key) }

    /// Z85 keys are 40 characters from the Z85 alphabet.
    static func isZ85Key(_ s: String) -> Bool {
        let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
        return s.count == 40 && s.allSatisfy { alphabet.contains($0) }
    }
}
