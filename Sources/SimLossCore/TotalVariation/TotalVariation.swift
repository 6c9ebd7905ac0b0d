import RealModule

// Total variation of images, per image.
//
// Implementation goals, in order of priority:
//  1. values exact to double rounding for float64, and for float32 within
//     float32 rounding: anisotropic forms its differences in the element
//     type (2e-7 relative, see TotalVariationPass), the others in Double;
//  2. the exact gradient of the returned value, in the same pass: each row
//     of the gradient is computed from input rows h-1, h, h+1, so rows are
//     independent and no second pass or scratch image is needed;
//  3. bitwise the same for any thread count and any layout;
//  4. speed: the input read once from memory (neighbour rows hit cache) and
//     the gradient written once.
//
//  dx = x[h, w+1] - x[h, w],  dy = x[h+1, w] - x[h, w]
//  anisotropic: sum |dx| + |dy|        (over the differences that exist)
//  squared:     sum dx^2 + dy^2
//  isotropic:   sum over pixels sqrt(dx^2 + dy^2 + eps), dx = 0 in the last
//               column and dy = 0 in the last row (Neumann boundary)

/// The variants of total variation.
public enum TotalVariationKind: Sendable, Equatable {
  /// sum |dx| + |dy|: the seed's formula, TensorFlow's and kornia's.
  case anisotropic
  /// sum sqrt(dx^2 + dy^2 + eps) over every pixel; eps > 0 keeps the
  /// gradient finite on flat regions and adds sqrt(eps) per flat pixel.
  case isotropic(eps: Double)
  /// sum dx^2 + dy^2.
  case squared
}

/// Total variation of each (C, H, W) image of a batch, summed over channels,
/// rows and columns.
///
/// - Parameters:
///   - x: logical (N, C, H, W), any strides.
///   - kind: default `.anisotropic`.
///   - reduction: `.mean` (default) is the mean over the N images of their
///     sums, `.sum` the total, `.none` one value per image.
///   - gradient: if given, receives d value / d x; (N, C, H, W), not
///     overlapping `x`.
/// - Returns: one value, or N for `.none`.
/// - Throws: `.rank` unless x has rank 4; `.invalidArgument` for eps not
///   finite and > 0.
/// - Complexity: O(NCHW), one pass.
///
/// Mathematical properties (each a test): tv(x + c) = tv(x); tv of a
/// constant image is 0 (anisotropic, squared); tv(-x) = tv(x).
@inlinable
public func totalVariation<T: SimLossFloat>(
  _ x: TensorView<T>, kind: TotalVariationKind = .anisotropic,
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> LossValues {
  try x.requireRank(4, "(N, C, H, W)")
  if case .isotropic(let eps) = kind, !(eps > 0 && eps.isFinite) {
    throw SimLossError(.invalidArgument, "eps: \(eps) must be finite and > 0")
  }
  if let gradient {
    try x.requireSameShape(as: gradient)
    try gradient.requireWritable()
    try gradient.requireNoOverlap(with: x)
  }
  let n = x.shape[0]
  let pass = TotalVariationPass(x: x, gradient: gradient)
  let scale: Double = reduction == .mean ? 1 / Double(n) : 1
  let sums = try pass.plan.sampleSums("\(x.name)", scratchBytes: try pass.scratchBytes()) { s, rows, scratch in
    switch kind {
    case .anisotropic: return pass.rowsSum(AbsoluteTerm.self, sample: s, rows: rows, scale: scale, scratch: scratch)
    case .squared: return pass.rowsSum(SquaredTerm.self, sample: s, rows: rows, scale: scale, scratch: scratch)
    case .isotropic(let eps): return pass.isotropicRowsSum(sample: s, rows: rows, eps: eps, scale: scale, scratch: scratch)
    }
  }
  switch reduction {
  case .mean: return try LossValues(one: sums.reduce(0, +) / Double(n))
  case .sum: return try LossValues(one: sums.reduce(0, +))
  case .none: return LossValues(sums)
  }
}
