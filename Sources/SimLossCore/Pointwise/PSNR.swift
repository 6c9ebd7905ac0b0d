import RealModule

// Peak signal-to-noise ratio, in dB, per sample.
//
// Implementation goals, in order of priority: the value exact to double
// rounding; the exact gradient of the returned value; determinism for any
// thread count and layout; then speed (two passes when a gradient is asked
// for, since d psnr / d pred needs the sample's MSE first).
//
//      psnr_n = 10 log10(L^2 / mse_n)
//      d psnr_n / d pred_i = -20 (pred_i - target_i) / (ln 10 * count_n * mse_n)

/// Peak signal-to-noise ratio of each sample in dB, as skimage's
/// `peak_signal_noise_ratio` of each image.
///
/// - Parameters:
///   - pred, target: equal shapes of any rank; dimension 0 indexes samples.
///   - dataRange: L, the span of the input units (1 for [0, 1] images, 255
///     for 8-bit ones); > 0 and finite. Never inferred from the data.
///   - reduction: `.mean` (default) averages psnr_n over samples, `.sum`
///     adds them, `.none` returns each.
///   - gradient: if given, receives d value / d pred.
/// - Returns: one value, or one per sample for `.none`; +infinity for a
///   sample with mse 0, whose gradient is then 0.
/// - Complexity: O(n); one pass, or two with a gradient.
@inlinable
public func psnr<T: SimLossFloat>(
  pred: TensorView<T>, target: TensorView<T>, dataRange: Double = 1,
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> LossValues {
  guard dataRange > 0, dataRange.isFinite else {
    throw SimLossError(.invalidArgument, "data_range: \(dataRange) must be finite and > 0")
  }
  try pred.requireSameShape(as: target)
  if let gradient {
    try pred.requireSameShape(as: gradient)
    try gradient.requireWritable()
    try gradient.requireNoOverlap(with: pred)
    try gradient.requireNoOverlap(with: target)
  }
  let forward = PointwisePass(pred: pred, target: target, weight: nil, gradient: nil)
  let count = Double(forward.geometry.sampleCount)
  // The squared errors' sums become the per-sample values in place.
  let values = try forward.plan.sampleSums("\(pred.name)") { s, rows in
    forward.lossSum(.squared, sample: s, rows: rows, gradientScale: 0)
  }
  let perSample = reduction == .mean ? 1 / Double(values.count) : 1
  if let gradient {
    // SquaredTerm's derivative is 2d; the factor 2 of -20 comes from it.
    let backward = PointwisePass(pred: pred, target: target, weight: nil, gradient: gradient)
    _ = try backward.plan.sampleSums("\(gradient.name)") { s, rows in
      let m = values[s] / count
      let scale = m > 0 ? -10 * perSample / (Double.log(10) * count * m) : 0
      return backward.lossSum(.squared, sample: s, rows: rows, gradientScale: scale)
    }
  }
  for s in 0..<values.count {
    values[s] = 20 * Double.log10(dataRange) - 10 * Double.log10(values[s] / count)
  }
  switch reduction {
  case .mean: return try LossValues(one: values.reduce(0, +) / Double(values.count))
  case .sum: return try LossValues(one: values.reduce(0, +))
  case .none: return LossValues(values)
  }
}
