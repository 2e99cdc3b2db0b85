/// `withUnsafeBytes` whose closure keeps its typed error (the standard library's version rethrows
/// `any Error`, which typed-throws callers cannot propagate).
extension Array {
    @inlinable
    public func withRawBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }

    @inlinable
    public mutating func withMutableRawBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeMutableBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }
}
