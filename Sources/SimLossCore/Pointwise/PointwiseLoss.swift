import RealModule

// Pointwise losses: L1 (mean absolute error) and MSE (the L2 loss).
//
// Implementation goals, in order of priority:
//  1. the value exact to double rounding for float32 and float64 inputs
//     (differences and sums are formed in Double);
//  2. the exact gradient of the returned value, in the same pass;
//  3. bitwise the same result for any thread count and for any layout of
//     the same logical tensor (sums follow logical order, never memory
//     order);
//  4. speed: one read of each input and one write of the gradient, rows
//     vectorised, within 2x of a memcpy of the same bytes.
//
//      value_n = sum_i w_i f(pred_i - target_i) / sum_i w_i
//      f(d) = |d| (L1, f'(0) = 0 as PyTorch) or d^2 (MSE)

/// The pointwise function a `PointwiseLoss` applies to each difference.
public enum PointwiseFunction: Sendable {
  /// |d|, derivative sign(d) with sign(0) = 0.
  case absolute
  /// d^2, derivative 2d.
  case squared
}

/// Mean absolute error (L1 loss) of `pred` against `target`.
///
/// ```
/// value_n = sum_i w_i |pred_i - target_i| / sum_i w_i    (per sample n)
/// ```
/// `.mean` returns the weighted mean over all elements of the batch
/// (`torch.nn.L1Loss`), `.sum` the weighted sum, `.none` each `value_n`.
/// A sample (or batch) whose weights sum to 0 has value 0 and gradient 0.
///
/// - Parameters:
///   - pred: any rank; dimension 0 indexes samples.
///   - target: `pred`'s shape.
///   - weight: `nil`, or non-negative finite weights broadcastable to
///     `pred`'s shape (equal rank, each dimension equal or 1).
///   - reduction: default `.mean`.
///   - gradient: if given, receives d value / d pred (for `.none`, each
///     sample's own gradient); `pred`'s shape, not overlapping any input.
/// - Returns: one value, or one per sample for `.none`.
/// - Throws: `SimLossError` for mismatched shapes, bad weights or overlap.
/// - Complexity: O(n), one pass (two with weights).
///
/// Mathematical properties (each a test): l1(x, x) = 0; l1(x, y) = l1(y, x);
/// l1(x + c, y + c) = l1(x, y) for the same rounding-free c.
@inlinable
public func l1Loss<T: SimLossFloat>(
  pred: TensorView<T>, target: TensorView<T>, weight: TensorView<T>? = nil,
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> LossValues {
  try pointwiseLoss(
    .absolute, pred: pred, target: target, weight: weight, reduction: reduction,
    gradient: gradient)
}

/// Mean squared error (L2 loss): `l1Loss` with (pred - target)^2 in place of
/// |pred - target| (`torch.nn.MSELoss`, skimage's `mean_squared_error`).
@inlinable
public func mseLoss<T: SimLossFloat>(
  pred: TensorView<T>, target: TensorView<T>, weight: TensorView<T>? = nil,
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> LossValues {
  try pointwiseLoss(
    .squared, pred: pred, target: target, weight: weight, reduction: reduction,
    gradient: gradient)
}

/// The shared implementation of `l1Loss` and `mseLoss`.
@inlinable
public func pointwiseLoss<T: SimLossFloat>(
  _ function: PointwiseFunction,
  pred: TensorView<T>, target: TensorView<T>, weight: TensorView<T>? = nil,
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> LossValues {
  try pred.requireSameShape(as: target)
  let weight = try weight.map { try $0.broadcast(to: pred.shape) }
  if let gradient {
    try pred.requireSameShape(as: gradient)
    try gradient.requireWritable()
    try gradient.requireNoOverlap(with: pred)
    try gradient.requireNoOverlap(with: target)
    if let weight { try gradient.requireNoOverlap(with: weight) }
  }
  let oneElementPerSample = pred.shape.dropFirst().allSatisfy { $0 == 1 }
  let pass = PointwisePass(
    pred: pred, target: target, weight: weight, gradient: gradient,
    chunked: oneElementPerSample && reduction != .none)

  // Denominators: the weight of each sample (its element count without
  // weights); the gradient scale needs them before the main pass.
  let perSample = Double(pass.geometry.sampleCount)
  var sampleWeights: HeapArray<Double>? = nil
  var totalWeight = perSample * Double(pass.geometry.samples)
  if let weight {
    let sums = pass.denseSamples
      ? try pass.plan.groupedSampleSums("weight") { samples, out in pass.denseWeightSums(samples: samples, into: out) }
      : try pass.plan.sampleSums("weight") { s, rows in pass.weightSum(sample: s, rows: rows) }
    if !sums.allSatisfy({ $0.isFinite }) { try pass.throwBadWeight(weight) }
    totalWeight = sums.reduce(0, +)
    guard totalWeight.isFinite else {
      throw SimLossError(
        .overflow, "\(weight.name): the weights sum past the largest double; scale them down")
    }
    sampleWeights = sums
  }
  @inline(__always) func sampleWeight(_ s: Int) -> Double { sampleWeights?[s] ?? perSample }
  let meanScale = totalWeight > 0 ? 1 / totalWeight : 0

  func scale(_ s: Int) -> Double {
    switch reduction {
    case .mean: return meanScale
    case .sum: return 1
    case .none: return sampleWeight(s) > 0 ? 1 / sampleWeight(s) : 0
    }
  }
  // Every sample's gradient has the same scale unless reduction none
  // divides each by its own weight: then each sample is a call of its own.
  // (Unweighted, reduction none scales every sample by 1 / its element
  // count: (4096, 4) L1 with its gradient, one thread, 69 -> 37 us.)
  let uniformScale = reduction == .none && sampleWeights != nil ? nil : scale(0)
  let sums = pass.denseSamples
    ? try pass.plan.groupedSampleSums("\(pred.name)") { samples, out in
      pass.denseSampleSums(function, samples: samples, into: out, uniformScale: uniformScale, scale: scale)
    }
    : try pass.plan.sampleSums("\(pred.name)") { s, rows in
      pass.lossSum(function, sample: s, rows: rows, gradientScale: scale(s))
    }
  switch reduction {
  case .mean: return try LossValues(one: totalWeight > 0 ? sums.reduce(0, +) / totalWeight : 0)
  case .sum: return try LossValues(one: sums.reduce(0, +))
  case .none:
    for s in 0..<sums.count {
      let w = sampleWeight(s)
      sums[s] = w > 0 ? sums[s] / w : 0
    }
    return LossValues(sums)
  }
}
