// MARK: - Metadata values

/// One metadata value of a GGUF file, with the exact type the file stores.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double)
    case bool(Bool), string(String), array([GGUFValue])
}

// MARK: - Convenience accessors

extension GGUFValue {
    /// The value as an `Int` when it is any integer kind that fits, else `nil`.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a `Double` when it is a float or an integer, else `nil`.
    public var float: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        default: return int.map(Double.init)
        }
    }

    /// The string, when the value is a string.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The boolean, when the value is a bool.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, when the value is an array.
    public var array: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The elements as strings, when the value is an array of strings only.
    public var stringArray: [String]? {
        guard case .array(let a) = self else { return nil }
        var out = [String]()
        out.reserveCapacity(a.count)
        for element in a {
            guard case .string(let s) = element else { return nil }
            out.append(s)
        }
        return out
    }

    /// The elements as `Float`s, when the value is an array of numbers only.
    public var floatArray: [Float]? {
        guard case .array(let a) = self else { return nil }
        var out = [Float]()
        out.reserveCapacity(a.count)
        for element in a {
            if case .float32(let f) = element { out.append(f); continue }
            guard let d = element.float else { return nil }
            out.append(Float(d))
        }
        return out
    }

    /// The elements as `Int`s, when the value is an array of integers only.
    public var intArray: [Int]? {
        guard case .array(let a) = self else { return nil }
        var out = [Int]()
        out.reserveCapacity(a.count)
        for element in a {
            guard let i = element.int else { return nil }
            out.append(i)
        }
        return out
    }
}

// MARK: - Wire type codes

/// The GGUF metadata value type codes (`enum gguf_type`).
enum GGUFValueType: UInt32 {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5
    case float32 = 6, bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Fixed size of one value of this type on disk, or nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

extension GGUFValue {
    /// The wire type code of this value.
    var valueType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }
}
