import RealModule

// The seed's general cross-entropy H(P, Q) = -sum_c P_c log Q_c between a
// target distribution P and a predicted probability distribution Q (not
// logits), per position.
//
// Implementation goals, in order of priority: PyTorch's clamp of each log at
// -100, so that Q_c = 0 gives a finite loss; the exact gradient of the
// clamped value, d/dQ_c = -P_c / Q_c where log Q_c > -100 and 0 where the
// clamp holds; determinism for any thread count; vectorised loops (the
// logarithm is FastMath's). From logits, `crossEntropy(logits:...)` is the
// faster and stabler path.

/// H(P, Q) per position: -sum_c P_c max(log Q_c, -100). `.mean` is the mean
/// over positions; `.none` one value per position.
///
/// - Parameters:
///   - probabilities: Q, logits-like shape (N, C, ...) or (N, ..., C); each
///     value in [0, 1] (checked; rows are not checked to sum to 1).
///   - target: P, the same shape.
///   - options: reduction and class axis (ignore index and smoothing do not
///     apply).
///   - gradient: if given, receives d value / d Q.
/// - Throws: `.invalidValue` naming the first Q outside [0, 1].
@inlinable
public func crossEntropy<T: SimLossFloat>(
  probabilities q: TensorView<T>, target p: TensorView<T>, options: CrossEntropyOptions = .init(),
  gradient: TensorView<T>? = nil
) throws -> CrossEntropyResult {
  let layout = try ClassLayout(logits: q, classAxis: options.classAxis)
  try q.requireSameShape(as: p)
  try requireGradient(gradient, of: q)
  if let gradient { try gradient.requireNoOverlap(with: p) }
  let check = try ElementwisePass<T, BaselineKernels>(x: q, y: p, w: nil, q: nil, gradient: nil)
  try check.requireUnitInterval(check.x, of: q)

  let (qv, qc) = layout.positions(of: q)
  let (pv, pc) = layout.positions(of: p)
  let gv = gradient.map { layout.positions(of: $0) }
  let geometry = RowGeometry(shape: layout.positionShape)
  let classes = layout.classes
  let plan = BlockPlan(samples: geometry.samples, rows: geometry.rows, rowLength: geometry.rowLength * classes)
  let positions = layout.positionShape.reduce(1, *)
  let scale = options.reduction == .mean ? 1 / Double(positions) : 1
  let perPosition = try HeapArray<Double>(
    zeroed: options.reduction == .none ? positions : 0, what: "\(q.name): one loss per position")
  let out = UnsafeMutableBufferPointer(start: perPosition.base, count: perPosition.count)
  let qs = geometry.rowStride(qv.strides), ps = geometry.rowStride(pv.strides)
  let gs = gv.map { geometry.rowStride($0.0.strides) } ?? 0, gc = gv?.1 ?? 0
  // Classes contiguous in every operand ((N, C), channels last): each
  // position's terms in a vector loop over its classes, summed in laneSum's
  // order. Otherwise ((N, C, H, W)) a row of positions at a time, class
  // after class, each position's sum in class order: vectorised across the
  // positions when they are contiguous. (One element at a time with libm's
  // log, (8192, 1000) float32 took 29 ms on two threads, numpy 22.)
  let classesContiguous = qc == 1 && pc == 1 && (gv == nil || gc == 1), termScale = T(scale)
  let positionsContiguous = qs == 1 && ps == 1 && (gv == nil || gs == 1)
  var scratch = ScratchLayout(q.name)
  let termRow = try scratch.reserve(T.self, classesContiguous ? classes : 0)
  let sumRow = try scratch.reserve(Double.self, classesContiguous ? 0 : geometry.rowLength)
  let sums = try plan.sampleSums(q.name, scratchBytes: scratch.bytes) { s, rows, raw in
    var total = 0.0
    let terms = termRow.pointer(in: raw), row = sumRow.pointer(in: raw)
    for r in rows {
      let n = geometry.length(sample: s, row: r)
      let q0 = qv.origin + geometry.offset(strides: qv.strides, sample: s, row: r)
      let p0 = pv.origin + geometry.offset(strides: pv.strides, sample: s, row: r)
      let g0 = gv.map { $0.0.origin + geometry.offset(strides: $0.0.strides, sample: s, row: r) }
      let base = geometry.flatIndex(sample: s, row: r)
      if classesContiguous {
        for i in 0..<n {
          let loss = -classTerms(q0 + i &* qs, p0 + i &* ps, g0.map { $0 + i &* gs }, classes, termScale, into: terms)
          total += loss
          if !out.isEmpty { out[base &+ i] = loss }
        }
        continue
      }
      for i in 0..<n { row[i] = 0 }
      for c in 0..<classes {
        let (qc0, pc0, gc0) = (q0 + c &* qc, p0 + c &* pc, g0.map { $0 + c &* gc })
        if positionsContiguous {
          subtractTerms(UnitStep.self, qc0, qs, pc0, ps, gc0, gs, n, termScale, from: row)
        } else {
          subtractTerms(StridedStep.self, qc0, qs, pc0, ps, gc0, gs, n, termScale, from: row)
        }
      }
      total += laneSum(n) { row[$0] }
      if !out.isEmpty { for i in 0..<n { out[base &+ i] = row[i] } }
    }
    return total
  }
  let total = sums.reduce(0, +)
  switch options.reduction {
  case .mean: return try CrossEntropyResult(one: total / Double(positions), Double(positions), positions)
  case .sum: return try CrossEntropyResult(one: total, Double(positions), positions)
  case .none: return CrossEntropyResult(values: perPosition, denominator: Double(positions), counted: positions)
  }
}

/// One element's term of H(P, Q), P_c max(log Q_c, -100) (0 where P_c is
/// 0), and `scale` times d(-term)/dQ_c: -scale P_c / Q_c, 0 where the clamp
/// holds or P_c is 0. In T: for float32 each within 2 ulp, and the loops
/// run at float32's vector width (in Double, 2 ns per element on one
/// thread); the sums are Double.
@inlinable @inline(__always)
func probabilityTerm<T: SimLossFloat>(_ q: T, _ p: T, _ scale: T) -> (T, T) {
  let logQ = T.fastLog(q)
  let clamped = !(logQ > -100)
  let term = p == 0 ? 0 : p * (clamped ? -100 : logQ)
  return (term, clamped || p == 0 ? 0 : -scale * p / q)
}

/// The sum of one position's terms over its `classes` contiguous classes
/// (in laneSum's order, through `terms`), writing their gradient to `g`.
@inlinable
func classTerms<T: SimLossFloat>(
  _ q: UnsafeMutablePointer<T>, _ p: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>?, _ classes: Int,
  _ scale: T, into terms: UnsafeMutablePointer<T>
) -> Double {
  if let g {
    for c in 0..<classes { (terms[c], g[c]) = probabilityTerm(q[c], p[c], scale) }
  } else {
    for c in 0..<classes { terms[c] = probabilityTerm(q[c], p[c], scale).0 }
  }
  return laneSum(classes) { terms[$0].asDouble }
}

/// One class's terms of n positions subtracted from their sums in `sums`,
/// their gradient written to `g`.
@inlinable
func subtractTerms<T: SimLossFloat, S: Step>(
  _: S.Type, _ q: UnsafeMutablePointer<T>, _ qs: Int, _ p: UnsafeMutablePointer<T>, _ ps: Int,
  _ g: UnsafeMutablePointer<T>?, _ gs: Int, _ n: Int, _ scale: T, from sums: UnsafeMutablePointer<Double>
) {
  if let g {
    for i in 0..<n {
      let (term, d) = probabilityTerm(q[S.offset(i, qs)], p[S.offset(i, ps)], scale)
      sums[i] -= term.asDouble
      g[S.offset(i, gs)] = d
    }
  } else {
    for i in 0..<n { sums[i] -= probabilityTerm(q[S.offset(i, qs)], p[S.offset(i, ps)], scale).0.asDouble }
  }
}
