/// Jupyter (protocol 5.2+) counts cursor positions in Unicode scalars (code points);
/// Swift strings index by grapheme clusters. These helpers convert between the two.
extension String {
    /// The index `offset` Unicode scalars from the start, clamped to `startIndex...endIndex`.
    public func index(atScalarOffset offset: Int) -> String.Index {
        let scalars = unicodeScalars
        guard offset > 0 else { return startIndex }
        return scalars.index(scalars.startIndex, offsetBy: offset, limitedBy: scalars.endIndex) ?? endIndex
    }

    /// The number of Unicode scalars before `index`.
    public func scalarOffset(of index: String.Index) -> Int {
        unicodeScalars.distance(from: unicodeScalars.startIndex, to: index)
    }

    /// The number of Unicode scalars in the string (Jupyter's length).
    public var scalarCount: Int { unicodeScalars.count }
}
