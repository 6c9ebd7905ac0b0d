// Categorical cross-entropy from logits, with class-index or probability
// targets (the seed's H(P, Q) = -sum P log Q with Q = softmax(logits)).
//
// Implementation goals, in order of priority:
//  1. numerically stable: log-sum-exp with the maximum subtracted, so that
//     logits of 1e4 do not overflow and -inf logits of classes that are not
//     the target give probability 0 and a finite loss;
//  2. PyTorch's semantics where frameworks agree (class weights, ignore
//     index, label smoothing, 'mean' over the counted weight), documented
//     choices where they do not ('mean' of nothing is 0, not NaN);
//  3. the exact gradient of the returned value in the same pass: one read of
//     the logits from memory, one write of the gradient;
//  4. bitwise the same for any thread count; values accumulate in Double;
//  5. speed: exp and log vectorised (FastMath) for float32.
//
// Every variant is one formula. Per position, with coefficients a_c >= 0:
//     loss = sum_c a_c (lse - x_c) = A lse - B,  A = sum a_c, B = sum a_c x_c
//     d loss / d x_c = A softmax_c - a_c
// class index y:  a_c = (1 - eps) w_y [c == y] + (eps / C) w_c
// probabilities:  a_c = w_c ((1 - eps) t_c + eps / C)
// (PyTorch's CrossEntropyLoss; the smoothing term shares the nll's
// normalisation, as PyTorch's label_smoothing does.)

/// Categorical cross-entropy of logits against class indices.
///
/// ```
/// loss_n = -w[y_n] log softmax(x_n)[y_n]          (eps = 0)
/// ```
/// Positions whose target equals `ignoreIndex` contribute 0 and get a zero
/// gradient. `.mean` divides the sum by the sum of `w[y_n]` over counted
/// positions (PyTorch); if nothing counts it returns 0 with a zero gradient
/// (PyTorch returns NaN).
///
/// - Parameters:
///   - logits: (N, C) or (N, C, d1, ..., dk) (`.second`), or
///     (N, d1, ..., dk, C) (`.last`); any strides.
///   - target: integer class indices with the logits' shape less the class
///     dimension; each in [0, C) or equal to `ignoreIndex`.
///   - weight: `nil`, or C finite class weights.
///   - gradient: if given, receives d value / d logits (logits' shape).
/// - Throws: `.invalidValue` for an index out of range (naming it and its
///   position) or a weight that is not finite; shape and option errors.
/// - Complexity: O(N C d1...dk); the logits are read once from memory.
@inlinable
public func crossEntropy<T: SimLossFloat, I: FixedWidthInteger & SignedInteger>(
  logits: TensorView<T>, target: TensorView<I>, weight: TensorView<T>? = nil,
  options: CrossEntropyOptions = .init(), gradient: TensorView<T>? = nil
) throws -> CrossEntropyResult {
  try crossEntropy(
    logits: logits, target: target, weight: weight, options: options, gradient: gradient, kernels: BaselineKernels.self)
}

/// The same with the kernels of `K` (see KernelTarget.swift).
@inlinable
package func crossEntropy<T: SimLossFloat, I: FixedWidthInteger & SignedInteger, K: KernelTarget>(
  logits: TensorView<T>, target: TensorView<I>, weight: TensorView<T>?,
  options: CrossEntropyOptions, gradient: TensorView<T>?, kernels: K.Type
) throws -> CrossEntropyResult {
  try options.validate()
  let layout = try ClassLayout(logits: logits, classAxis: options.classAxis)
  guard target.shape == layout.positionShape else {
    throw SimLossError(
      .shapeMismatch,
      "\(target.name): shape \(describe(shape: target.shape)) does not match \(logits.name) shape "
        + "\(describe(shape: logits.shape)) less its class dimension, \(describe(shape: layout.positionShape))")
  }
  try requireGradient(gradient, of: logits)
  // The targets are read again after gradient rows are written: a gradient
  // over them would change the indices under the kernel (a crash, found by
  // an adversarial review).
  if let gradient { try gradient.requireNoOverlap(with: target) }
  // The weights are copied before any gradient is written, so this is the
  // header's contract (no output over an input) rather than a hazard.
  if let gradient, let weight { try gradient.requireNoOverlap(with: weight) }
  let classWeights = try ClassWeights(weight, classes: layout.classes)
  let pass = CategoricalPass<T, I, K>(
    layout: layout, logits: logits, indices: target, soft: nil, weights: classWeights,
    gradient: gradient, options: options)
  let (denominator, counted) = try pass.countTargets()
  return try pass.run(denominator: denominator, counted: counted)
}

/// Categorical cross-entropy of logits against probability (soft) targets
/// of the logits' shape: loss = -sum_c w_c t_c log softmax(x)_c per
/// position; `.mean` divides by the number of positions (PyTorch).
/// Targets are not checked to sum to 1 (a caller's soft labels may not).
@inlinable
public func crossEntropy<T: SimLossFloat>(
  logits: TensorView<T>, probabilities target: TensorView<T>, weight: TensorView<T>? = nil,
  options: CrossEntropyOptions = .init(), gradient: TensorView<T>? = nil
) throws -> CrossEntropyResult {
  try crossEntropy(
    logits: logits, probabilities: target, weight: weight, options: options, gradient: gradient,
    kernels: BaselineKernels.self)
}

/// The same with the kernels of `K` (see KernelTarget.swift).
@inlinable
package func crossEntropy<T: SimLossFloat, K: KernelTarget>(
  logits: TensorView<T>, probabilities target: TensorView<T>, weight: TensorView<T>?,
  options: CrossEntropyOptions, gradient: TensorView<T>?, kernels: K.Type
) throws -> CrossEntropyResult {
  try options.validate()
  let layout = try ClassLayout(logits: logits, classAxis: options.classAxis)
  try logits.requireSameShape(as: target)
  try requireGradient(gradient, of: logits)
  if let gradient { try gradient.requireNoOverlap(with: target) }
  if let gradient, let weight { try gradient.requireNoOverlap(with: weight) }
  let classWeights = try ClassWeights(weight, classes: layout.classes)
  let pass = CategoricalPass<T, Int32, K>(
    layout: layout, logits: logits, indices: nil, soft: target, weights: classWeights,
    gradient: gradient, options: options)
  let positions = layout.positionShape.reduce(1, *)
  return try pass.run(denominator: Double(positions), counted: positions)
}

/// Checks an optional gradient output against the logits.
@inlinable
func requireGradient<T>(_ gradient: TensorView<T>?, of input: TensorView<T>) throws {
  guard let gradient else { return }
  try input.requireSameShape(as: gradient)
  try gradient.requireWritable()
  try gradient.requireNoOverlap(with: input)
}

/// Where the classes and positions of a logits tensor are.
@usableFromInline
struct ClassLayout {
  @usableFromInline let classes: Int
  @usableFromInline let classDimension: Int
  /// The logits' shape without the class dimension: (N, d1, ..., dk).
  @usableFromInline let positionShape: [Int]

  @inlinable
  init<T>(logits: TensorView<T>, classAxis: ClassAxis) throws {
    guard logits.rank >= 2 else {
      throw SimLossError(
        .rank,
        "\(logits.name): rank \(logits.rank) with shape \(describe(shape: logits.shape)); logits need "
          + "a sample and a class dimension, (N, C, ...)")
    }
    classDimension = classAxis == .second ? 1 : logits.rank - 1
    classes = logits.shape[classDimension]
    var shape = logits.shape
    shape.remove(at: classDimension)
    positionShape = shape
  }

  /// A view of `tensor` (logits-shaped) at class 0, shaped like the
  /// positions, and the stride between classes.
  @inlinable
  func positions<T>(of tensor: TensorView<T>) -> (TensorView<T>, Int) {
    var strides = tensor.strides
    let classStride = strides.remove(at: classDimension)
    return (TensorView(unchecked: tensor, shape: positionShape, strides: strides), classStride)
  }
}

/// Class weights copied to a contiguous buffer (C values; all 1 when the
/// caller gives none), with their sum.
@usableFromInline
struct ClassWeights {
  /// Owns `values`.
  @usableFromInline let storage: HeapArray<Double>
  @usableFromInline let values: UnsafeMutablePointer<Double>
  @usableFromInline let given: Bool
  @usableFromInline let total: Double

  @inlinable
  init<T: SimLossFloat>(_ weight: TensorView<T>?, classes: Int) throws {
    if let weight {
      guard weight.rank == 1, weight.shape[0] == classes else {
        throw SimLossError(
          .shapeMismatch, "\(weight.name): shape \(describe(shape: weight.shape)) is not (\(classes),), one weight per class")
      }
    }
    // Allocated before the weights are read: a broadcast class dimension
    // larger than memory is refused at once, not after reading 2^40 weights.
    storage = try HeapArray(zeroed: classes, what: "class weights")
    values = storage.base
    var sum = 0.0
    for c in 0..<classes {
      if let weight {
        let w = weight.origin[c * weight.strides[0]]
        guard w.isFinite else {
          throw SimLossError(.invalidValue, "\(weight.name): weight of class \(c) is \(w)")
        }
        values[c] = w.asDouble
      } else {
        values[c] = 1
      }
      sum += values[c]
    }
    given = weight != nil
    total = sum
  }
}
