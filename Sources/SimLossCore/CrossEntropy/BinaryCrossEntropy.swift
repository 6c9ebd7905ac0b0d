// Binary cross-entropy (from logits, from probabilities) and sigmoid focal
// loss: elementwise losses of a prediction x against a target y in [0, 1].
//
// Implementation goals, in order of priority:
//  1. stable for any logit: softplus and sigmoid from exp(-|x|), never
//     exp(+|x|); the focal gradient finite for gamma < 1 and saturated
//     logits, where the textbook formula gives 0 * infinity;
//  2. PyTorch's semantics (torch.nn.functional.binary_cross_entropy*,
//     torchvision.ops.sigmoid_focal_loss): 'mean' over all elements, weight
//     and pos_weight broadcast, logs of probabilities clamped at -100;
//  3. the exact gradient of the returned value in the same pass;
//  4. bitwise the same for any thread count; speed: one exp and one log per
//     element, vectorised for float32 (FastMath); for the float32 mean or
//     sum without weights, one log per row (log1pSum).
//
// from logits, pos_weight q:
//     loss = (1 - y) x + (1 + (q - 1) y) softplus(-x)
//          = |x| (x > 0 ? 1 - y : y) + log1p(e^-|x|) + (q - 1) y softplus(-x)
//     d/dx = (1 - y) sigmoid(x) - q y sigmoid(-x)
// from probabilities p:
//     loss = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))
//     d/dp = -y / p + (1 - y) / (1 - p), a clamped log contributing 0
// focal: p = sigmoid(x), u = 1 - p_t = y (1 - p) + (1 - y) p,
//     loss = a_t ce u^gamma,  d/dx = a_t u^gamma ((p - y) + gamma (1 - 2y) r ce)
//     with r = p (1 - p) / u = 1 / (y / p + (1 - y) / (1 - p)) in [0, 1].

/// Options of the binary losses.
public struct BinaryLossOptions: Sendable {
  /// `.mean` is the mean over all elements (PyTorch), `.sum` the sum,
  /// `.none` one value per element.
  public var reduction: Reduction
  /// Focal loss: the weight of the positive class in [0, 1], or negative to
  /// weigh both classes 1 (torchvision's alpha = -1).
  public var alpha: Double
  /// Focal loss: the focusing exponent, >= 0 (0 gives binary cross-entropy).
  public var gamma: Double

  public init(reduction: Reduction = .mean, alpha: Double = 0.25, gamma: Double = 2) {
    self.reduction = reduction
    self.alpha = alpha
    self.gamma = gamma
  }
}

/// Binary cross-entropy from logits, the stable form
/// (`torch.nn.BCEWithLogitsLoss`).
///
/// - Parameters:
///   - logits, target: equal shapes of any rank; targets in [0, 1] are not
///     checked (soft labels and PyTorch allow any real).
///   - weight: `nil` or per-element weights broadcastable to the shape.
///   - posWeight: `nil` or q broadcastable to the shape (a per-class
///     (1, ..., 1, C) view for PyTorch's pos_weight).
///   - gradient: if given, receives d value / d logits.
@inlinable
public func binaryCrossEntropyWithLogits<T: SimLossFloat>(
  logits: TensorView<T>, target: TensorView<T>, weight: TensorView<T>? = nil, posWeight: TensorView<T>? = nil,
  options: BinaryLossOptions = .init(), gradient: TensorView<T>? = nil
) throws -> LossValues {
  try binaryCrossEntropyWithLogits(
    logits: logits, target: target, weight: weight, posWeight: posWeight, options: options, gradient: gradient,
    kernels: BaselineKernels.self)
}

/// The same with the kernels of `K` (see KernelTarget.swift).
@inlinable
package func binaryCrossEntropyWithLogits<T: SimLossFloat, K: KernelTarget>(
  logits: TensorView<T>, target: TensorView<T>, weight: TensorView<T>?, posWeight: TensorView<T>?,
  options: BinaryLossOptions, gradient: TensorView<T>?, kernels: K.Type
) throws -> LossValues {
  let pass = try ElementwisePass<T, K>(x: logits, y: target, w: weight, q: posWeight, gradient: gradient)
  return try pass.run(LogitsTerm.self, options)
}

/// Binary cross-entropy from probabilities (`torch.nn.BCELoss`): each log is
/// clamped at -100, so p = 0 or 1 gives a finite loss, and a clamped log
/// contributes 0 to the gradient.
///
/// - Throws: `.invalidValue` if a probability or target is outside [0, 1]
///   or NaN, naming the first such element; nothing is written then.
@inlinable
public func binaryCrossEntropy<T: SimLossFloat>(
  probabilities: TensorView<T>, target: TensorView<T>, weight: TensorView<T>? = nil,
  options: BinaryLossOptions = .init(), gradient: TensorView<T>? = nil
) throws -> LossValues {
  try binaryCrossEntropy(
    probabilities: probabilities, target: target, weight: weight, options: options, gradient: gradient,
    kernels: BaselineKernels.self)
}

/// The same with the kernels of `K` (see KernelTarget.swift).
@inlinable
package func binaryCrossEntropy<T: SimLossFloat, K: KernelTarget>(
  probabilities: TensorView<T>, target: TensorView<T>, weight: TensorView<T>?,
  options: BinaryLossOptions, gradient: TensorView<T>?, kernels: K.Type
) throws -> LossValues {
  let pass = try ElementwisePass<T, K>(x: probabilities, y: target, w: weight, q: nil, gradient: gradient)
  try pass.requireUnitInterval(pass.x, of: probabilities)
  try pass.requireUnitInterval(pass.y, of: target)
  return try pass.run(ProbabilityTerm.self, options)
}

/// Sigmoid focal loss (Lin et al. 2017; torchvision's `sigmoid_focal_loss`),
/// with a gradient that stays finite for any gamma >= 0 and any logit.
@inlinable
public func sigmoidFocalLoss<T: SimLossFloat>(
  logits: TensorView<T>, target: TensorView<T>, options: BinaryLossOptions = .init(),
  gradient: TensorView<T>? = nil
) throws -> LossValues {
  try sigmoidFocalLoss(logits: logits, target: target, options: options, gradient: gradient, kernels: BaselineKernels.self)
}

/// The same with the kernels of `K` (see KernelTarget.swift).
@inlinable
package func sigmoidFocalLoss<T: SimLossFloat, K: KernelTarget>(
  logits: TensorView<T>, target: TensorView<T>, options: BinaryLossOptions, gradient: TensorView<T>?,
  kernels: K.Type
) throws -> LossValues {
  guard options.gamma >= 0, options.gamma.isFinite else {
    throw SimLossError(.invalidArgument, "gamma: \(options.gamma) must be finite and >= 0")
  }
  guard options.alpha <= 1, !options.alpha.isNaN else {
    throw SimLossError(.invalidArgument, "alpha: \(options.alpha) must be in [0, 1], or negative for none")
  }
  let pass = try ElementwisePass<T, K>(x: logits, y: target, w: nil, q: nil, gradient: gradient)
  // gamma = 2, the default of torchvision and of most detection code, as
  // u * u rather than exp(2 log u).
  return options.gamma == 2 ? try pass.run(SquareFocalTerm.self, options) : try pass.run(FocalTerm.self, options)
}

/// The per-element function of a binary loss: its value (in Double, for
/// the sum) and its derivative with respect to x (in T).
@usableFromInline
protocol BinaryTerm {
  /// The part of the term that depends on x alone (an exponential or a
  /// logarithm): computed for a run of elements in a loop of its own, see
  /// `ElementwisePass.row`.
  static func prepare<T: SimLossFloat>(_ x: T) -> T
  /// The value at x and `scale` times the derivative, given `prepare(x)`
  /// (the scale of the reduction: the logits' term folds it into the
  /// division it makes anyway).
  static func evaluate<T: SimLossFloat>(
    _ x: T, _ prepared: T, _ y: T, _ q: T, _ alpha: T, _ gamma: T, scale: T) -> (T, T)
}

@usableFromInline
enum LogitsTerm: BinaryTerm {
  /// exp(-|x|) in (0, 1]: never overflows.
  @inlinable @inline(__always)
  static func prepare<T: SimLossFloat>(_ x: T) -> T { T.fastExpNonPositive(-abs(x)) }

  @inlinable @inline(__always)
  static func evaluate<T: SimLossFloat>(_ x: T, _ e: T, _ y: T, _ q: T, _: T, _: T, scale: T) -> (T, T) {
    // (1 - y) x + softplus(-x) as |x| ((1 - y) for x > 0, y otherwise)
    // + log1p(e), plus for pos_weight (q - 1) y softplus(-x): the first form
    // loses the tiny loss of a well-classified negative (x = -30, y = 0:
    // -30 + (30 + 9e-14) is 0), this one keeps its digits on both sides,
    // with log1p(e) added in one rounding; and an infinite logit gives an
    // infinite loss (max(x, 0) - x y, fused, was inf - inf, NaN). The
    // q == 1 select folds the term away when q is the constant 1: 0 * y is
    // not 0 to the compiler (y may be NaN).
    let base = T.fastLog1pUnit(e, plus: linearPart(x, y))
    let value = q == 1 ? base : base + (q - 1) * y * T.fastLog1pUnit(e, plus: x < 0 ? -x : 0)
    return (value, derivative(x, e, y, q, scale: scale))
  }

  /// The loss without its log1p(e): |x| (1 - y) for x > 0, |x| y
  /// otherwise.
  @inlinable @inline(__always)
  static func linearPart<T: SimLossFloat>(_ x: T, _ y: T) -> T { abs(x) * (x > 0 ? 1 - y : y) }

  /// `scale` times d/dx: (1 - y) sigmoid(x) - q y sigmoid(-x), with
  /// sigmoid(|x|) = s and sigmoid(-|x|) = e s factored out:
  /// s ((1 - y) - q y e) for x >= 0 and s ((1 - y) e - q y) for x < 0, each
  /// bracket one rounding. (The shorter sigmoid(x) - y cancels where the
  /// loss is small.)
  @inlinable @inline(__always)
  static func derivative<T: SimLossFloat>(_ x: T, _ e: T, _ y: T, _ q: T, scale: T) -> T {
    let scaledSigmoidAbs = scale / (1 + e)
    let oneMinusY = 1 - y, qy = q * y
    let bracket = x >= 0 ? oneMinusY.addingProduct(-qy, e) : (-qy).addingProduct(e, oneMinusY)
    return scaledSigmoidAbs * bracket
  }
}

@usableFromInline
enum ProbabilityTerm: BinaryTerm {
  @inlinable @inline(__always)
  static func prepare<T: SimLossFloat>(_ p: T) -> T { T.fastLog(p) }

  @inlinable @inline(__always)
  static func evaluate<T: SimLossFloat>(_ p: T, _ logP: T, _ y: T, _: T, _: T, _: T, scale: T) -> (T, T) {
    let v = 1 - p
    // log1p(-p), with the rounding of 1 - p corrected.
    let log1mP = v == 1 ? -p : (v > 0 ? T.fastLog(v) - ((v - 1) + p) / v : -.infinity)
    let clampP = logP <= -100, clamp1mP = log1mP <= -100
    let value = -(y * (clampP ? -100 : logP) + (1 - y) * (clamp1mP ? -100 : log1mP))
    let dP: T = clampP || y == 0 ? 0 : -y / p
    let d1mP: T = clamp1mP || y == 1 ? 0 : (1 - y) / v
    return (value, scale * (dP + d1mP))
  }
}

@usableFromInline
enum FocalTerm: BinaryTerm {
  @inlinable @inline(__always)
  static func prepare<T: SimLossFloat>(_ x: T) -> T { LogitsTerm.prepare(x) }

  @inlinable @inline(__always)
  static func evaluate<T: SimLossFloat>(_ x: T, _ e: T, _ y: T, _: T, _ alpha: T, _ gamma: T, scale: T) -> (T, T) {
    // u^gamma; 0^0 = 1, as torchvision's pow; a NaN u (a NaN logit or
    // target) stays NaN, so that the gradient is NaN as the loss is (0
    // there hid it).
    focal(x, e, y, alpha, gamma, scale: scale) { u in
      gamma == 0 ? 1 : (u > 0 ? T.fastExp(gamma * T.fastLog(u)) : (u != u ? u : 0))
    }
  }

  /// The loss and its scaled derivative, given u^gamma as `power(u)`.
  @inlinable @inline(__always)
  static func focal<T: SimLossFloat>(
    _ x: T, _ e: T, _ y: T, _ alpha: T, _ gamma: T, scale: T, power: (T) -> T
  ) -> (T, T) {
    let (ce, dce) = LogitsTerm.evaluate(x, e, y, 1, 0, 0, scale: 1)  // dce = p - y
    let v = 1 + e
    let p = x >= 0 ? 1 / v : e / v
    let q = x >= 0 ? e / v : 1 / v  // 1 - p, without cancellation
    let u = y * q + (1 - y) * p
    let ug = power(u)
    let inverseR = (y == 0 ? 0 : y / p) + (y == 1 ? 0 : (1 - y) / q)
    let r = 1 / inverseR
    let at: T = alpha < 0 ? 1 : alpha * y + (1 - alpha) * (1 - y)
    let value = at * ce * ug
    let derivative = at * ug * (dce + gamma * (1 - 2 * y) * r * ce)
    return (value, ug == 0 ? 0 : scale * derivative)
  }
}

/// `FocalTerm` for gamma = 2: u^2 as u * u, without an exponential and a
/// logarithm per element (2^20 float32, two threads, forward+backward:
/// 2.40-2.59 -> 0.69-0.71 ms).
@usableFromInline
enum SquareFocalTerm: BinaryTerm {
  @inlinable @inline(__always)
  static func prepare<T: SimLossFloat>(_ x: T) -> T { LogitsTerm.prepare(x) }

  @inlinable @inline(__always)
  static func evaluate<T: SimLossFloat>(_ x: T, _ e: T, _ y: T, _: T, _ alpha: T, _: T, scale: T) -> (T, T) {
    FocalTerm.focal(x, e, y, alpha, 2, scale: scale) { u in u * u }
  }
}

/// Drives a `BinaryTerm` over every element: rows in parallel blocks,
/// per-element values to a scratch row summed in `laneSum` order.
@usableFromInline
struct ElementwisePass<T: SimLossFloat, K: KernelTarget> {
  @usableFromInline let x: TensorView<T>
  @usableFromInline let y: TensorView<T>
  @usableFromInline let w: TensorView<T>?
  @usableFromInline let q: TensorView<T>?
  @usableFromInline let gradient: TensorView<T>?
  @usableFromInline let geometry: RowGeometry
  @usableFromInline let plan: BlockPlan
  @usableFromInline let count: Int

  @inlinable
  init(x: TensorView<T>, y: TensorView<T>, w: TensorView<T>?, q: TensorView<T>?, gradient: TensorView<T>?) throws {
    try x.requireSameShape(as: y)
    let w = try w.map { try $0.broadcast(to: x.shape) }
    let q = try q.map { try $0.broadcast(to: x.shape) }
    if let gradient {
      try x.requireSameShape(as: gradient)
      try gradient.requireWritable()
      try gradient.requireNoOverlap(with: x)
      try gradient.requireNoOverlap(with: y)
      if let w { try gradient.requireNoOverlap(with: w) }
      if let q { try gradient.requireNoOverlap(with: q) }
    }
    // The kernels read the operands with their common dimensions merged
    // (`coalesced`); a tensor that merges into one dimension is read in
    // rows (RowGeometry.init(chunking:)).
    let views = coalesced([x, y, gradient ?? x, w ?? x, q ?? x])
    self.x = views[0]
    self.y = views[1]
    self.gradient = gradient.map { _ in views[2] }
    self.w = w.map { _ in views[3] }
    self.q = q.map { _ in views[4] }
    count = x.count
    geometry = views[0].rank == 1 ? RowGeometry(chunking: count) : RowGeometry(shape: views[0].shape)
    plan = BlockPlan(samples: geometry.samples, rows: geometry.rows, rowLength: geometry.rowLength)
  }

  /// Throws `.invalidValue` naming the first element of `v` outside
  /// [0, 1], by its index in `caller`, the view `v` was coalesced from.
  @inlinable
  func requireUnitInterval(_ v: TensorView<T>, of caller: TensorView<T>) throws {
    let bad = try plan.sampleSums(v.name) { s, rows in
      // An integer count of failed comparisons (2 for NaN), without &&:
      // a Double count (whose additions may not be reordered) or a
      // short-circuit kept the loop scalar, a third of BCE from
      // probabilities.
      var n = 0
      let vs = geometry.strides(of: v)
      let stride = geometry.rowStride(vs)
      func count<S: Step>(_: S.Type, _ p: UnsafeMutablePointer<T>, _ length: Int) {
        for i in 0..<length {
          let value = p[S.offset(i, stride)]
          n &+= (value >= 0 ? 0 : 1) &+ (value <= 1 ? 0 : 1)
        }
      }
      for r in rows {
        let p = v.origin + geometry.offset(strides: vs, sample: s, row: r)
        let length = geometry.length(sample: s, row: r)
        if stride == 1 { count(UnitStep.self, p, length) } else { count(StridedStep.self, p, length) }
      }
      return Double(n)
    }
    guard bad.contains(where: { $0 > 0 }),
      let (index, value) = caller.firstElement(where: { !($0 >= 0 && $0 <= 1) })
    else { return }
    throw SimLossError(.invalidValue, "\(caller.name): element \(describe(shape: index)) is \(value); it must be in [0, 1]")
  }

  @inlinable
  func run<F: BinaryTerm>(_: F.Type, _ options: BinaryLossOptions) throws -> LossValues {
    let scale = options.reduction == .mean ? 1 / Double(count) : 1
    let perElement = try HeapArray<Double>(
      zeroed: options.reduction == .none ? count : 0, what: "\(x.name): one loss per element")
    let out = UnsafeMutableBufferPointer(start: perElement.base, count: perElement.count)
    let alpha = T(options.alpha), gamma = T(options.gamma)
    var layout = ScratchLayout(x.name)
    let valuesRow = try layout.reserve(T.self, geometry.rowLength)
    // Float32 logits without weights, summed (the loss every training loop
    // asks for): the terms log1p(e) of a row summed as one logarithm
    // (log1pSum), when rows are long enough to pay for its call of log.
    let sumsLogarithms = T.self == Float.self && F.self == LogitsTerm.self && w == nil && q == nil
      && options.reduction != .none && geometry.rowLength >= 128
    let factorsRow = try layout.reserve(T.self, sumsLogarithms ? geometry.rowLength : 0)
    let sums = try plan.sampleSums(x.name, scratchBytes: layout.bytes) { s, rows, scratch in
      let values = valuesRow.pointer(in: scratch), factors = factorsRow.pointer(in: scratch)
      var total = 0.0
      let xv = geometry.strides(of: x), yv = geometry.strides(of: y)
      let wv = w.map(geometry.strides), qv = q.map(geometry.strides), gv = gradient.map(geometry.strides)
      let xs = geometry.rowStride(xv), ys = geometry.rowStride(yv)
      let ws = wv.map { geometry.rowStride($0) } ?? 0
      let qs = qv.map { geometry.rowStride($0) } ?? 0
      let gs = gv.map { geometry.rowStride($0) } ?? 0
      let dense = xs == 1 && ys == 1 && (gradient == nil || gs == 1)
      for r in rows {
        let n = geometry.length(sample: s, row: r)
        let xr = x.origin + geometry.offset(strides: xv, sample: s, row: r)
        let yr = y.origin + geometry.offset(strides: yv, sample: s, row: r)
        let wr = w.map { $0.origin + geometry.offset(strides: wv!, sample: s, row: r) }
        let qr = q.map { $0.origin + geometry.offset(strides: qv!, sample: s, row: r) }
        let gr = gradient.map { $0.origin + geometry.offset(strides: gv!, sample: s, row: r) }
        // Each combination of options is its own specialisation.
        let p = xr, t = yr, wp = wr ?? xr, qp = qr ?? xr, g = gr ?? xr
        if sumsLogarithms {
          switch (gr != nil, dense) {
          case (true, true): Self.logitsRow(On.self, UnitStep.self, p, 1, t, 1, g, 1, values, factors, n, T(scale))
          case (false, true): Self.logitsRow(Off.self, UnitStep.self, p, 1, t, 1, g, 1, values, factors, n, T(scale))
          case (true, false): Self.logitsRow(On.self, StridedStep.self, p, xs, t, ys, g, gs, values, factors, n, T(scale))
          case (false, false): Self.logitsRow(Off.self, StridedStep.self, p, xs, t, ys, g, gs, values, factors, n, T(scale))
          }
          total += log1pSum(n, values, factors)
          continue
        }
        switch (wr != nil, qr != nil, gr != nil, dense && wr == nil && qr == nil) {
        case (false, false, true, true):
          Self.row(F.self, Off.self, Off.self, On.self, UnitStep.self, p, 1, t, 1, wp, 0, qp, 0, g, 1, values, n, T(scale), alpha, gamma)
        case (false, false, false, true):
          Self.row(F.self, Off.self, Off.self, Off.self, UnitStep.self, p, 1, t, 1, wp, 0, qp, 0, g, 1, values, n, T(scale), alpha, gamma)
        case (let weighted, let positive, let writes, _):
          switch (weighted, positive, writes) {
          case (false, false, false): Self.row(F.self, Off.self, Off.self, Off.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (false, false, true): Self.row(F.self, Off.self, Off.self, On.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (true, false, false): Self.row(F.self, On.self, Off.self, Off.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (true, false, true): Self.row(F.self, On.self, Off.self, On.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (false, true, false): Self.row(F.self, Off.self, On.self, Off.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (false, true, true): Self.row(F.self, Off.self, On.self, On.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (true, true, false): Self.row(F.self, On.self, On.self, Off.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          case (true, true, true): Self.row(F.self, On.self, On.self, On.self, StridedStep.self, p, xs, t, ys, wp, ws, qp, qs, g, gs, values, n, T(scale), alpha, gamma)
          }
        }
        total += laneSum(n) { i in values[i].asDouble }
        if !out.isEmpty {
          let base = geometry.flatIndex(sample: s, row: r)
          for i in 0..<n { out[base &+ i] = values[i].asDouble }
        }
      }
      return total
    }
    let total = sums.reduce(0, +)
    switch options.reduction {
    case .mean: return try LossValues(one: total / Double(count))
    case .sum: return try LossValues(one: total)
    case .none: return LossValues(perElement)
    }
  }

  /// One row of `LogitsTerm` without weights, for `log1pSum`: the
  /// gradient, and the loss a + log1p(e) as a in `values` and e in
  /// `factors`. An e below 2^-26 goes to a instead (log1p(e) is e to
  /// within 2^-27 there, and a + e is what `evaluate` rounds to then), so
  /// that every factor log1pSum multiplies in adds at least that much.
  /// (e goes to `values` first: read from `factors` and written back there,
  /// the loop without a gradient ran scalar, 63 against 27 cycles per 16
  /// elements.)
  @inlinable @inline(__always)
  static func logitsRow<Writes: Flag, S: Step>(
    _: Writes.Type, _: S.Type, _ x: UnsafeMutablePointer<T>, _ xs: Int, _ y: UnsafeMutablePointer<T>, _ ys: Int,
    _ g: UnsafeMutablePointer<T>, _ gs: Int, _ values: UnsafeMutablePointer<T>, _ factors: UnsafeMutablePointer<T>,
    _ n: Int, _ scale: T
  ) {
    for i in 0..<n { values[i] = LogitsTerm.prepare(x[S.offset(i, xs)]) }
    for i in 0..<n {
      let xi = x[S.offset(i, xs)], yi = y[S.offset(i, ys)], e = values[i]
      let a = LogitsTerm.linearPart(xi, yi)
      let tiny = e < 0x1p-26
      values[i] = tiny ? a + e : a
      factors[i] = tiny ? 0 : e
      if Writes.isOn { g[S.offset(i, gs)] = LogitsTerm.derivative(xi, e, yi, 1, scale: scale) }
    }
  }

  /// One row; the options are type parameters, so that each combination
  /// is compiled on its own even when the compiler does not inline it.
  ///
  /// Two loops: the first computes `F.prepare` (the exponential) into
  /// `values`, the second the rest. As one loop, each iteration was a
  /// dependency chain of some 90 cycles by our count (the exponential, then
  /// the division and the log1p polynomial), more than the out-of-order
  /// window overlaps: BCE from logits ran at 32 cycles per 8 elements,
  /// where its instructions need about 15. Split, with 1024-element rows,
  /// it takes 0.86 ms instead of 1.16 on 2^20 elements (one thread).
  @inlinable @inline(__always)
  static func row<F: BinaryTerm, Weighted: Flag, Positive: Flag, Writes: Flag, S: Step>(
    _: F.Type, _: Weighted.Type, _: Positive.Type, _: Writes.Type, _: S.Type,
    _ x: UnsafeMutablePointer<T>, _ xs: Int, _ y: UnsafeMutablePointer<T>, _ ys: Int,
    _ w: UnsafeMutablePointer<T>, _ ws: Int, _ q: UnsafeMutablePointer<T>, _ qs: Int,
    _ g: UnsafeMutablePointer<T>, _ gs: Int, _ values: UnsafeMutablePointer<T>, _ n: Int,
    _ scale: T, _ alpha: T, _ gamma: T
  ) {
    for i in 0..<n { values[i] = F.prepare(x[S.offset(i, xs)]) }
    for i in 0..<n {
      let wi: T = Weighted.isOn ? w[S.offset(i, ws)] : 1
      let qi: T = Positive.isOn ? q[S.offset(i, qs)] : 1
      let (v, d) = F.evaluate(x[S.offset(i, xs)], values[i], y[S.offset(i, ys)], qi, alpha, gamma, scale: scale)
      values[i] = Weighted.isOn ? wi * v : v
      if Writes.isOn { g[S.offset(i, gs)] = Weighted.isOn ? wi * d : d }
    }
  }
}
