import JupyterProtocol
import Rendering

/// A bundle as Jupyter's `data` dict: text types as strings, and the Periscope JSON type
/// parsed into a JSON object (Rendering stores it as serialized text). JSON that does not
/// parse is dropped rather than sent malformed.
func jupyterData(_ bundle: MimeBundle) -> [String: JSONValue] {
    var data: [String: JSONValue] = [:]
    for (mime, text) in bundle.data {
        if mime.hasSuffix("json") {
            if let parsed = parseJSON(text) { data[mime] = parsed }
        } else {
            data[mime] = .string(text)
        }
    }
    if data[MimeBundle.plain] == nil { data[MimeBundle.plain] = .string(bundle.plainText) }
    return data
}

/// Parses JSON text into a `JSONValue` (ints stay ints); nil when the text is not JSON.
func parseJSON(_ text: String) -> JSONValue? {
    try? JSONValue.parse(text)
}
