// MARK: - Renderable values

/// A value that can display itself as a MIME bundle. Every renderer in this target conforms.
public protocol MimeRenderable {
    /// The bundle: always text/plain, plus HTML, SVG and the vnd JSON where they apply.
    var mimeBundle: MimeBundle { get }
}
