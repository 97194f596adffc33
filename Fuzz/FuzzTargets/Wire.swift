import Foundation
import JupyterProtocol

// The Jupyter wire codec and the JSON decoder. The input is split into frames at
// each "\n--\n"; decoding uses an empty key (unsigned, as Jupyter allows) so the JSON frames are
// reached, and a signed codec so the signature check is too.

private let separator = Data("\n--\n".utf8)
private let unsigned = WireCodec(signer: Signer(key: Data()))
private let signed = WireCodec(signer: Signer(key: "fuzz-key"))

private func frames(_ data: Data) -> [Data] {
    var out: [Data] = []
    var rest = data[...]
    while let r = rest.range(of: separator) {
        out.append(Data(rest[..<r.lowerBound]))
        rest = rest[r.upperBound...]
    }
    out.append(Data(rest))
    return out
}

private func finiteOrNull(_ value: JSONValue) -> JSONValue {
    switch value {
    case .double(let d) where !d.isFinite: return .null
    case .array(let items): return .array(items.map(finiteOrNull))
    case .object(let fields): return .object(fields.mapValues(finiteOrNull))
    default: return value
    }
}

func fuzzWire(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
    let data = Data(buffer: input)
    var outcome = FuzzOutcome.refused
    // The whole input as one JSON document: what parses must serialise and parse back equal,
    // except that non-finite numbers (NaN, Infinity, 1e400) are written as null.
    if let value = try? JSONValue.parse(data) {
        let again = try? JSONValue.parse(value.serializedData())
        precondition(again == finiteOrNull(value), "JSON round trip changed the value")
        outcome = .accepted
    }
    let parts = frames(data)
    if let message = try? unsigned.decode(parts) {
        // A decoded message re-encodes and decodes to itself.
        let back = try? unsigned.decode(unsigned.encode(message))
        precondition(back?.header.msgID == message.header.msgID, "wire round trip lost the header")
        outcome = .accepted
    }
    _ = try? signed.decode(parts)
    return outcome
}
