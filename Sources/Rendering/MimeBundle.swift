/// A displayable value: MIME type → content. Text types hold the text; the JSON type
/// `application/vnd.periscope.v1+json` holds serialized JSON text (PeriscopeKernel parses it
/// into a JSON object before it goes on the wire). Rendering knows nothing of Jupyter.
public struct MimeBundle: Sendable, Equatable {
    public static let plain = "text/plain"
    public static let html = "text/html"
    public static let svg = "image/svg+xml"
    public static let periscopeJSON = "application/vnd.periscope.v1+json"

    public var data: [String: String]
    public init(data: [String: String]) { self.data = data }
    public init(plain: String) { self.data = [MimeBundle.plain: plain] }

    public var plainText: String { data[MimeBundle.plain] ?? "" }
}
