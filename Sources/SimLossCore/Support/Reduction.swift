/// How per-sample values are combined into what a loss returns.
/// A sample is an index of dimension 0 (one image of a batch).
public enum Reduction: Sendable {
  /// One value; each loss documents what it is the mean over.
  case mean
  /// One value: the sum of the per-sample values.
  case sum
  /// One value per sample.
  case none
}

/// What a loss call returns: one value for `.mean` and `.sum`, one per
/// sample for `.none`. The gradient, if asked for, was written to the
/// caller's buffer.
///
/// The values live in a `HeapArray`, whose allocation failure the loss
/// threw as `.outOfMemory` (one value per sample of a broadcast view can
/// be more than memory); `values` copies them to an `Array`.
public struct LossValues: Sendable {
  /// The values, without a copy (for the C ABI).
  @usableFromInline package let buffer: HeapArray<Double>
  /// The values.
  public var values: [Double] { Array(buffer) }

  @inlinable package init(_ buffer: HeapArray<Double>) {
    self.buffer = buffer
    buffer.stopCounting()
  }

  /// One value (`.mean`, `.sum`).
  ///
  /// - Throws: `.outOfMemory` when even that cannot be allocated.
  @inlinable package init(one value: Double) throws {
    buffer = try HeapArray(zeroed: 1, what: "a loss value")
    buffer[0] = value
    buffer.stopCounting()
  }
}
