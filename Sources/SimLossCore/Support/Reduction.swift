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
public struct LossValues: Sendable {
  public var values: [Double]
  public init(_ values: [Double]) { self.values = values }
}
