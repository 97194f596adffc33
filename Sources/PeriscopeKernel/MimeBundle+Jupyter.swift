import JupyterProtocol
import Rendering

/// A bundle as Jupyter's `data` dict: text types as strings, and the Periscope payload built
/// straight into the protocol's JSON value.
func jupyterData(_ bundle: MimeBundle) -> [String: JSONValue] {
    var data = bundle.data.mapValues { JSONValue.string($0) }
    if let json = bundle.json { data[MimeBundle.periscopeJSON] = json.build(JSONValue.self) }
    if data[MimeBundle.plain] == nil { data[MimeBundle.plain] = .string(bundle.plainText) }
    return data
}

extension JSONValue: JSONBuilder {
    public static func makeNull() -> JSONValue { .null }
    public static func makeBool(_ value: Bool) -> JSONValue { .bool(value) }
    public static func makeInt(_ value: Int) -> JSONValue { .int(value) }
    public static func makeNumber(_ value: Double) -> JSONValue { .double(value) }
    public static func makeString(_ value: String) -> JSONValue { .string(value) }
    public static func makeArray(_ items: [JSONValue]) -> JSONValue { .array(items) }
    public static func makeObject(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(Dictionary(pairs, uniquingKeysWith: { _, last in last }))
    }
}
