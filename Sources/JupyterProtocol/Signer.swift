import Crypto
import Foundation

/// Signs messages with HMAC-SHA256 over the raw header, parent_header, metadata and content
/// frames, as jupyter_client's `Session.sign` does. An empty key means messages are unsigned.
public struct Signer: Sendable {
    // Kept as bytes (SymmetricKey is not Sendable); a key object is made per signature.
    private let keyBytes: Data

    /// `key` is the connection file's key as UTF-8 bytes; empty disables signing.
    public init(key: Data) {
        self.keyBytes = key
    }

    public init(key: String) { self.init(key: Data(key.utf8)) }

    /// True when a key is set (messages are signed and checked).
    public var isEnabled: Bool { !keyBytes.isEmpty }

    /// The lowercase hex HMAC-SHA256 of the concatenated frames, or "" when unsigned.
    public func signature(of frames: [Data]) -> String {
        guard isEnabled else { return "" }
        var mac = HMAC<SHA256>(key: SymmetricKey(data: keyBytes))
        for frame in frames { mac.update(data: frame) }
        let digest = mac.finalize()
        var hex = ""
        hex.reserveCapacity(64)
        let digits = Array("0123456789abcdef".utf8)
        for byte in digest {
            hex.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
            hex.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
        }
        return hex
    }

    /// Whether `signature` (the raw signature frame) matches `frames`. Always true when unsigned.
    /// The comparison takes the same time wherever the first difference is.
    public func verify(signature: Data, of frames: [Data]) -> Bool {
        guard isEnabled else { return true }
        let expected = Array(self.signature(of: frames).utf8)
        let given = Array(signature)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<expected.count { difference |= expected[i] ^ given[i] }
        return difference == 0
    }
}
