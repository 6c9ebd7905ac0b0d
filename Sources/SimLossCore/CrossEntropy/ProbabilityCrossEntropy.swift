import RealModule

// The seed's general cross-entropy H(P, Q) = -sum_c P_c log Q_c between a
// target distribution P and a predicted probability distribution Q (not
// logits), per position.
//
// Implementation goals, in order of priority: PyTorch's clamp of each log at
// -100, so that Q_c = 0 gives a finite loss; the exact gradient of the
// clamped value, d/dQ_c = -P_c / Q_c where log Q_c > -100 and 0 where the
// clamp holds; determinism for any thread count. Speed is secondary: from
// logits, `crossEntropy(logits:...)` is the fast and stable path.

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
  let sums = try plan.sampleSums(q.name) { s, rows in
    var total = 0.0
    let n = geometry.rowLength
    for r in rows {
      let q0 = qv.origin + geometry.offset(strides: qv.strides, sample: s, row: r)
      let p0 = pv.origin + geometry.offset(strides: pv.strides, sample: s, row: r)
      let g0 = gv.map { $0.0.origin + geometry.offset(strides: $0.0.strides, sample: s, row: r) }
      let qs = geometry.rowStride(qv.strides), ps = geometry.rowStride(pv.strides)
      let gs = gv.map { geometry.rowStride($0.0.strides) } ?? 0, gc = gv?.1 ?? 0
      for i in 0..<n {
        var loss = 0.0
        for c in 0..<classes {
          let qic = q0[i &* qs &+ c &* qc].asDouble, pic = p0[i &* ps &+ c &* pc].asDouble
          let logQ = Double.log(qic)
          let clamped = !(logQ > -100)
          loss -= pic == 0 ? 0 : pic * (clamped ? -100 : logQ)
          if let g0 { g0[i &* gs &+ c &* gc] = T(clamped || pic == 0 ? 0 : -scale * pic / qic) }
        }
        total += loss
        if !out.isEmpty { out[geometry.flatIndex(sample: s, row: r) &+ i] = loss }
      }
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
