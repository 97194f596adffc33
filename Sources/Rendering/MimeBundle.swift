/// A displayable value: MIME type → content. `data` holds the text types (plain text, HTML,
/// SVG); `json` holds the `application/vnd.periscope.v1+json` payload as a value, which the kernel
/// turns into the protocol's own JSON value through `JSONBuilder` (no text in between).
/// Rendering knows nothing of Jupyter.
public struct MimeBundle: Sendable, Equatable {
    public static let plain = "text/plain"
    public static let html = "text/html"
    public static let svg = "image/svg+xml"
    public static let periscopeJSON = "application/vnd.periscope.v1+json"

    public var data: [String: String]
    /// The structured payload (`kind` first), or nil when the bundle has none.
    public var json: JSONOut?

    public init(data: [String: String], json: JSONOut? = nil) {
        self.data = data
        self.json = json
    }
    public init(plain: String) { self.data = [MimeBundle.plain: plain] }

    public var plainText: String { data[MimeBundle.plain] ?? "" }
}
