import CSystemShims
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
  try crossEntropy(probabilities: q, target: p, options: options, gradient: gradient, kernels: BaselineKernels.self)
}

/// The same with the kernels of `K` (see KernelTarget.swift).
@inlinable
package func crossEntropy<T: SimLossFloat, K: KernelTarget>(
  probabilities q: TensorView<T>, target p: TensorView<T>, options: CrossEntropyOptions,
  gradient: TensorView<T>?, kernels: K.Type
) throws -> CrossEntropyResult {
  let layout = try ClassLayout(logits: q, classAxis: options.classAxis)
  try q.requireSameShape(as: p)
  try requireGradient(gradient, of: q)
  if let gradient { try gradient.requireNoOverlap(with: p) }
  let check = try ElementwisePass<T, K>(x: q, y: p, w: nil, q: nil, gradient: nil)
  try check.requireUnitInterval(check.x, of: q)

  let (qv, qc) = layout.positions(of: q)
  let (pv, pc) = layout.positions(of: p)
  let gv = gradient.map { layout.positions(of: $0) }
  let classes = layout.classes, gc = gv?.1 ?? 0
  let classesContiguous = qc == 1 && pc == 1 && (gv == nil || gc == 1)
  let staged = classesContiguous && classes <= CategoricalPass<T, Int64, K>.stagedClasses
  // Staged (N, C) has one position per sample: read as one sample cut into
  // rows, so that a row holds many positions. (Not otherwise: rows of 1024
  // positions of many classes would leave too few blocks for the threads,
  // (1024, 4000) one.)
  let shape = layout.positionShape
  let geometry = shape.count == 1 && staged ? RowGeometry(chunking: shape[0]) : RowGeometry(shape: shape)
  let plan = BlockPlan(samples: geometry.samples, rows: geometry.rows, rowLength: geometry.rowLength * classes)
  let positions = shape.reduce(1, *)
  let scale = options.reduction == .mean ? 1 / Double(positions) : 1
  let perPosition = try HeapArray<Double>(
    zeroed: options.reduction == .none ? positions : 0, what: "\(q.name): one loss per position")
  let out = UnsafeMutableBufferPointer(start: perPosition.base, count: perPosition.count)
  let (qStrides, pStrides) = (geometry.strides(of: qv), geometry.strides(of: pv))
  let gStrides = gv.map { geometry.strides(of: $0.0) }
  let qs = geometry.rowStride(qStrides), ps = geometry.rowStride(pStrides)
  let gs = gStrides.map { geometry.rowStride($0) } ?? 0
  // The loops. Positions contiguous ((N, C, H, W)): a row of positions
  // at a time, class after class, vectorised across the positions. Classes
  // contiguous in Q, P and the gradient, and few ((N, C) and channels
  // last, up to `stagedClasses`): the same, on class-major copies of the
  // row (Transpose.swift), the gradient copied back; so both layouts give
  // the same bits. Classes contiguous and many: each position's terms in a
  // vector loop over its classes, summed in laneSum's order. Otherwise
  // (strided views) the first loop with strided loads. (One element at a
  // time with libm's log, (8192, 1000) float32 took 29 ms on two threads,
  // numpy 22.)
  let termScale = T(scale)
  let positionsContiguous = qs == 1 && ps == 1 && (gv == nil || gs == 1)
  let stageLength = Swift.min(geometry.rowLength, Swift.max(64, CategoricalPass<T, Int64, K>.stagedRowElements / classes))
  // A staged gradient whose rows are dense goes back through scratch and
  // is streamed (streamRow) when it is larger than the caches would keep
  // anyway, as CategoricalPass's: the transposition's stores, 32 bytes
  // every C elements, each first read their line from memory.
  let streamsGradient = staged && gv != nil && gs == classes
    && positions &* classes >= (4 << 20) / MemoryLayout<T>.stride
  let sumClasses = CategoricalPass<T, Int64, K>.sumClasses
  var scratch = ScratchLayout(q.name)
  let termRow = try scratch.reserve(T.self, classesContiguous && !staged ? classes : 0)
  // A row's totals are kept whole, so that the staged loop sums them in
  // one laneSum as the NCHW loop does (same bits for the reductions too).
  let sumRow = try scratch.reserve(T.self, staged ? stageLength : classesContiguous ? 0 : geometry.rowLength)
  let totalRow = try scratch.reserve(Double.self, !classesContiguous || staged ? geometry.rowLength : 0)
  let stagedQ = try scratch.reserve(T.self, staged ? stageLength &* classes : 0)
  let stagedP = try scratch.reserve(T.self, staged ? stageLength &* classes : 0)
  let stagedG = try scratch.reserve(T.self, staged && gv != nil ? stageLength &* classes : 0)
  let sums = try plan.sampleSums(q.name, scratchBytes: scratch.bytes) { s, rows, raw in
    var total = 0.0
    let terms = termRow.pointer(in: raw), row = sumRow.pointer(in: raw), rowTotal = totalRow.pointer(in: raw)
    // After class c, a row of n positions' sums in T are added to their
    // Double totals every `sumClasses` classes and after the last: so a
    // float32 sum holds at most 32 terms (within 32 ulp) for any C, and
    // the staged and NCHW loops add in the same order.
    func flush(after c: Int, _ n: Int, into totals: UnsafeMutablePointer<Double>) {
      guard (c &+ 1) % sumClasses == 0 || c &+ 1 == classes else { return }
      for i in 0..<n {
        totals[i] += row[i].asDouble
        row[i] = 0
      }
    }
    let (sq, sp, sg) = (stagedQ.pointer(in: raw), stagedP.pointer(in: raw), stagedG.pointer(in: raw))
    // How far the block's next row starts from row r in a view with these
    // strides (nil after its last row): what the prefetches below ask for.
    func nextRow(_ strides: [Int], after r: Int) -> Int? {
      r &+ 1 < rows.upperBound ? geometry.nextRowDistance(strides: strides, sample: s, row: r) : nil
    }
    for r in rows {
      let n = geometry.length(sample: s, row: r)
      let q0 = qv.origin + geometry.offset(strides: qStrides, sample: s, row: r)
      let p0 = pv.origin + geometry.offset(strides: pStrides, sample: s, row: r)
      let g0 = gv.map { $0.0.origin + geometry.offset(strides: gStrides!, sample: s, row: r) }
      let base = geometry.flatIndex(sample: s, row: r)
      if staged {
        // The next stretch (of this row, or the next row's first) is asked
        // for during this one's copy: the copy's loads otherwise wait on
        // memory.
        let (nextQ, nextP) = (nextRow(qStrides, after: r), nextRow(pStrides, after: r))
        var start = 0
        while start < n {
          let m = Swift.min(stageLength, n &- start)
          let last = start &+ m == n
          transpose(
            q0 + start &* qs, sourceStride: qs, rows: m, columns: classes, into: sq, destinationStride: m,
            prefetchAhead: !last ? m &* qs : nextQ.map { $0 &- start &* qs }, kernels: K.self)
          transpose(
            p0 + start &* ps, sourceStride: ps, rows: m, columns: classes, into: sp, destinationStride: m,
            prefetchAhead: !last ? m &* ps : nextP.map { $0 &- start &* ps }, kernels: K.self)
          let totals = rowTotal + start
          for i in 0..<m { (row[i], totals[i]) = (0, 0) }
          for c in 0..<classes {
            subtractTerms(
              K.self, UnitStep.self, sq + c &* m, 1, sp + c &* m, 1, g0 == nil ? nil : sg + c &* m, 1, m, termScale,
              from: row)
            flush(after: c, m, into: totals)
          }
          if let g0, streamsGradient {
            // Into the staged Q's scratch (done with), then streamed.
            transpose(sg, sourceStride: m, rows: classes, columns: m, into: sq, destinationStride: classes, kernels: K.self)
            streamRow(g0 + start &* gs, from: sq, count: m &* classes)
          } else if let g0 {
            transpose(
              sg, sourceStride: m, rows: classes, columns: m, into: g0 + start &* gs, destinationStride: gs, kernels: K.self)
          }
          start &+= m
        }
        total += laneSum(n) { rowTotal[$0] }
        if !out.isEmpty { for i in 0..<n { out[base &+ i] = rowTotal[i] } }
        continue
      }
      if classesContiguous {
        for i in 0..<n {
          let loss = -classTerms(
            K.self, q0 + i &* qs, p0 + i &* ps, g0.map { $0 + i &* gs }, classes, termScale, into: terms)
          total += loss
          if !out.isEmpty { out[base &+ i] = loss }
        }
        continue
      }
      for i in 0..<n { (row[i], rowTotal[i]) = (0, 0) }
      // Each class's run of the next row is asked for as this row's is
      // read: a row's classes are planes apart, runs too short for the
      // hardware's prefetcher to follow ((8, 21, 128, 128): 21 runs of
      // 512 bytes a row).
      let (nextQ, nextP) = positionsContiguous ? (nextRow(qStrides, after: r), nextRow(pStrides, after: r)) : (nil, nil)
      for c in 0..<classes {
        let (qc0, pc0, gc0) = (q0 + c &* qc, p0 + c &* pc, g0.map { $0 + c &* gc })
        if let nextQ, let nextP {
          prefetchLines(qc0 + nextQ, bytes: n &* MemoryLayout<T>.stride)
          prefetchLines(pc0 + nextP, bytes: n &* MemoryLayout<T>.stride)
        }
        if positionsContiguous {
          subtractTerms(K.self, UnitStep.self, qc0, qs, pc0, ps, gc0, gs, n, termScale, from: row)
        } else {
          subtractTerms(K.self, StridedStep.self, qc0, qs, pc0, ps, gc0, gs, n, termScale, from: row)
        }
        flush(after: c, n, into: rowTotal)
      }
      total += laneSum(n) { rowTotal[$0] }
      if !out.isEmpty { for i in 0..<n { out[base &+ i] = rowTotal[i] } }
    }
    if streamsGradient { simloss_store_fence() }
    return total
  }
  let total = sums.reduce(0, +)
  switch options.reduction {
  case .mean: return try CrossEntropyResult(one: total / Double(positions), Double(positions), positions)
  case .sum: return try CrossEntropyResult(one: total, Double(positions), positions)
  case .none: return CrossEntropyResult(values: perPosition, denominator: Double(positions), counted: positions)
  }
}

/// One element's term of H(P, Q), P_c max(log Q_c, -100), and `scale`
/// times d(-term)/dQ_c: -scale P_c / Q_c, 0 where the clamp holds. (Where
/// P_c is 0 both are 0, or -0: no test or select for it, as PyTorch's
/// autograd of the same formula.) In T: for float32 each within 2 ulp, and
/// the loops run at float32's vector width (in Double, 2 ns per element on
/// one thread).
@inlinable @inline(__always)
func probabilityTerm<T: SimLossFloat>(_ q: T, _ p: T, _ scale: T) -> (T, T) {
  let logQ = T.fastLog(q)
  // Q is in [0, 1] (checked), so log Q is -inf (Q = 0) to 0, never NaN.
  let kept = logQ > -100
  return (p * (kept ? logQ : -100), kept ? -scale * p / q : 0)
}

/// The sum of one position's terms over its `classes` contiguous classes
/// (in laneSum's order, through `terms`), writing their gradient to `g`.
@inlinable
func classTerms<T: SimLossFloat, K: KernelTarget>(
  _: K.Type, _ q: UnsafeMutablePointer<T>, _ p: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>?,
  _ classes: Int, _ scale: T, into terms: UnsafeMutablePointer<T>
) -> Double {
  if let g {
    for c in 0..<classes { (terms[c], g[c]) = probabilityTerm(q[c], p[c], scale) }
  } else {
    for c in 0..<classes { terms[c] = probabilityTerm(q[c], p[c], scale).0 }
  }
  return laneSum(classes) { terms[$0].asDouble }
}

/// One class's terms of n positions subtracted from their sums in `sums`,
/// their gradient written to `g`. The sums are in T: a position's terms
/// all have P's sign (log Q <= 0), so a float32 sum of k of them is within
/// k ulp (the caller adds them to Double totals every 32 classes), and it
/// runs at float32's vector width (Double sums halved it: (8, 21, 128,
/// 128), one thread, 9.7 ms, numpy 5.9).
@inlinable
func subtractTerms<T: SimLossFloat, K: KernelTarget, S: Step>(
  _: K.Type, _: S.Type, _ q: UnsafeMutablePointer<T>, _ qs: Int, _ p: UnsafeMutablePointer<T>, _ ps: Int,
  _ g: UnsafeMutablePointer<T>?, _ gs: Int, _ n: Int, _ scale: T, from sums: UnsafeMutablePointer<T>
) {
  if let g {
    for i in 0..<n {
      let (term, d) = probabilityTerm(q[S.offset(i, qs)], p[S.offset(i, ps)], scale)
      sums[i] -= term
      g[S.offset(i, gs)] = d
    }
  } else {
    for i in 0..<n { sums[i] -= probabilityTerm(q[S.offset(i, qs)], p[S.offset(i, ps)], scale).0 }
  }
}
