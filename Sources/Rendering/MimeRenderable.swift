// MARK: - Renderable values
//
// Rendering turns plain data into MIME bundles and knows nothing of Jupyter or models.
// Every renderer is a value type with a `mimeBundle`:
//
//   Table        text/plain, text/html, vnd JSON     (top-K tables, token lists)
//   Heatmap      text/plain, text/html*, SVG, JSON    (logit lens, patching, attention)
//   HeatmapGrid  text/plain, text/html (inline SVG), SVG, JSON   (all heads of a layer)
//   LineChart    text/plain, SVG, JSON                (probe accuracy per layer)
//   ScatterPlot  text/plain, SVG, JSON                (PCA projections)
//   TokenStrip   text/plain, text/html, JSON          (per-token attribution)
//   Card         text/plain, text/html, JSON          (model card)
//   progressBundle(fraction:label:elapsed:)           (live progress bar)
//   MimeBundle.combining(_:)                          (several of the above as one display)
//
// (* the HTML table is dropped above `Heatmap.htmlCellLimit` cells to keep outputs small.)
// Tokens are shown with `visibleToken(_:)`; all text is escaped with `escapeHTML(_:)` /
// `escapeXML(_:)`; the JSON payload is written by `JSONWriter` (non-finite numbers → null).

/// A value that can display itself as a MIME bundle. Every renderer in this target conforms.
public protocol MimeRenderable {
    /// The bundle: always text/plain, plus HTML, SVG and the vnd JSON where they apply.
    var mimeBundle: MimeBundle { get }
}
