/// Where the class dimension of logits is.
public enum ClassAxis: Sendable, Equatable {
  /// Dimension 1: (N, C) or (N, C, d1, ..., dk), PyTorch's layout.
  case second
  /// The last dimension: (N, d1, ..., dk, C), channels-last (TensorFlow).
  case last
}

/// Options of categorical cross-entropy.
public struct CrossEntropyOptions: Sendable {
  /// `.mean` divides by the sum of the weights of the counted targets
  /// (class indices) or by the number of positions (probability targets);
  /// `.sum` adds; `.none` gives one value per position.
  public var reduction: Reduction
  public var classAxis: ClassAxis
  /// Targets equal to it are not counted (class indices only). Any value;
  /// -100 as PyTorch.
  public var ignoreIndex: Int
  /// eps in [0, 1]: the target distribution is mixed with the uniform one,
  /// (1 - eps) target + eps / C.
  public var labelSmoothing: Double

  public init(
    reduction: Reduction = .mean, classAxis: ClassAxis = .second, ignoreIndex: Int = -100,
    labelSmoothing: Double = 0
  ) {
    self.reduction = reduction
    self.classAxis = classAxis
    self.ignoreIndex = ignoreIndex
    self.labelSmoothing = labelSmoothing
  }

  @inlinable
  func validate() throws {
    guard labelSmoothing >= 0, labelSmoothing <= 1 else {
      throw SimLossError(.invalidArgument, "label_smoothing: \(labelSmoothing) is outside [0, 1]")
    }
  }
}

/// What categorical cross-entropy returns.
public struct CrossEntropyResult: Sendable {
  /// One value for `.mean` and `.sum`; one per position for `.none`.
  public var values: [Double] { Array(valuesBuffer) }
  /// The same without a copy (for the C ABI; see `LossValues`).
  @usableFromInline package let valuesBuffer: HeapArray<Double>
  /// What `.mean` divides by: the sum of the weights of the counted targets
  /// (class indices), or the number of positions (probability targets).
  /// Data-parallel training adds the `.sum` values and these denominators of
  /// its shards and divides once, which is exactly the whole batch's mean.
  public var denominator: Double
  /// The number of positions whose target counted (not ignored).
  public var counted: Int

  @inlinable package init(values: HeapArray<Double>, denominator: Double, counted: Int) {
    valuesBuffer = values
    self.denominator = denominator
    self.counted = counted
    values.stopCounting()
  }

  /// One value (`.mean`, `.sum`).
  @inlinable
  init(one value: Double, _ denominator: Double, _ counted: Int) throws {
    self.init(values: try LossValues(one: value).buffer, denominator: denominator, counted: counted)
  }
}
