/// The per-element function of a pointwise loss, as a type so that each
/// kernel is specialised for it.
@usableFromInline
protocol PointwiseTerm {
  static func value(_ d: Double) -> Double
  static func derivative(_ d: Double) -> Double
}

@usableFromInline
enum AbsoluteTerm: PointwiseTerm {
  @inlinable @inline(__always)
  static func value(_ d: Double) -> Double { abs(d) }
  /// sign(d), with 0 at d = 0 (PyTorch and TensorFlow; JAX takes 1).
  @inlinable @inline(__always)
  static func derivative(_ d: Double) -> Double { d > 0 ? 1 : (d < 0 ? -1 : 0) }
}

@usableFromInline
enum SquaredTerm: PointwiseTerm {
  @inlinable @inline(__always)
  static func value(_ d: Double) -> Double { d * d }
  @inlinable @inline(__always)
  static func derivative(_ d: Double) -> Double { 2 * d }
}

/// The row kernels of the pointwise losses (L1, MSE, PSNR), over operands
/// already checked to share one shape.
@usableFromInline
struct PointwisePass<T: SimLossFloat> {
  @usableFromInline let pred: TensorView<T>
  @usableFromInline let target: TensorView<T>
  @usableFromInline let weight: TensorView<T>?
  @usableFromInline let gradient: TensorView<T>?
  @usableFromInline let geometry: RowGeometry
  @usableFromInline let plan: BlockPlan
  /// The strides each operand is read with (`RowGeometry.strides(of:)`),
  /// taken once: as arrays made per sample, they cost an allocation each,
  /// and (262144, 4) float32 ran at 17 ns per element.
  @usableFromInline let predStrides: [Int]
  @usableFromInline let targetStrides: [Int]
  @usableFromInline let weightStrides: [Int]
  @usableFromInline let gradientStrides: [Int]
  /// Whether each sample is one row, at unit stride in every operand
  /// ((N, 4) boxes, (N, C) scores): `lossSum` then reads it from the
  /// operands' sample strides (`sampleStrides`: pred, target, weight,
  /// gradient) without the general path's per-row offsets and choices,
  /// which on (4096, 4) float32 cost 50 ns per sample, 7x numpy's time.
  @usableFromInline let denseSamples: Bool
  @usableFromInline let sampleStrides: SIMD4<Int>
  /// The operands' origins, taken out of their views once: binding the
  /// optional views per sample retained and released their arrays.
  /// Absent operands have pred's (never read).
  @usableFromInline let origins: (pred: UnsafeMutablePointer<T>, target: UnsafeMutablePointer<T>,
    weight: UnsafeMutablePointer<T>, gradient: UnsafeMutablePointer<T>)
  /// `denseSamples`, and each operand's samples follow one another with no
  /// gap (a contiguous (N, n)): a block of samples is one run.
  @usableFromInline let backToBack: Bool

  /// - Parameter chunked: read a tensor of one element per sample as a
  ///   single sample in rows (`RowGeometry.init(chunking:)`), as a
  ///   reduction over all samples may.
  @inlinable
  init(pred: TensorView<T>, target: TensorView<T>, weight: TensorView<T>?, gradient: TensorView<T>?, chunked: Bool = false) {
    self.pred = pred
    self.target = target
    self.weight = weight
    self.gradient = gradient
    geometry = chunked ? RowGeometry(chunking: pred.shape[0]) : RowGeometry(shape: pred.shape)
    predStrides = geometry.strides(of: pred)
    targetStrides = geometry.strides(of: target)
    weightStrides = weight.map(geometry.strides) ?? []
    gradientStrides = gradient.map(geometry.strides) ?? []
    plan = BlockPlan(samples: geometry.samples, rows: geometry.rows, rowLength: geometry.rowLength)
    let g = geometry
    let operands = [predStrides, targetStrides, weightStrides, gradientStrides].filter { !$0.isEmpty }
    denseSamples = !chunked && g.rows == 1 && pred.rank >= 2 && operands.allSatisfy { g.rowStride($0) == 1 }
    sampleStrides = SIMD4(
      predStrides.first ?? 0, targetStrides.first ?? 0, weightStrides.first ?? 0, gradientStrides.first ?? 0)
    origins = (pred.origin, target.origin, weight?.origin ?? pred.origin, gradient?.origin ?? pred.origin)
    let n = geometry.rowLength
    backToBack = denseSamples && sampleStrides[0] == n && sampleStrides[1] == n
      && (weight == nil || sampleStrides[2] == n) && (gradient == nil || sampleStrides[3] == n)
  }

  /// The sum of the weights over the given rows of a sample; +infinity if
  /// any of them is negative, NaN or infinite (found again by
  /// `throwBadWeight`); 0 without weights.
  @inlinable
  func weightSum(sample: Int, rows: Range<Int>) -> Double {
    guard let w = weight else { return 0 }
    let ws = weightStrides, stride = geometry.rowStride(ws)
    var total = 0.0
    for r in rows {
      let p = w.origin + geometry.offset(strides: ws, sample: sample, row: r)
      total += stride == 1 ? Self.weightRow(p, 1, geometry.length(sample: sample, row: r)) : Self.weightRow(p, stride, geometry.length(sample: sample, row: r))
    }
    return total
  }

  @inlinable @inline(__always)
  static func weightRow(_ p: UnsafeMutablePointer<T>, _ s: Int, _ n: Int) -> Double {
    func term(_ i: Int) -> Double {
      let w = p[i &* s].asDouble
      return w >= 0 && w < .infinity ? w : .infinity
    }
    return n <= 8 ? shortLaneSum(n, term) : laneSum(n, term)
  }

  /// `weightSum` of `samples` of `denseSamples` operands into `sums[s]`:
  /// the same row sum, read from the weight's sample stride.
  @inlinable
  func denseWeightSums(samples: Range<Int>, into sums: UnsafeMutablePointer<Double>) {
    let n = geometry.rowLength
    for s in samples { sums[s] = 0.0 + Self.weightRow(origins.weight + s &* sampleStrides[2], 1, n) }
  }

  /// Finds the first weight that is not finite and >= 0, in logical order,
  /// and throws naming its index and value.
  @usableFromInline
  func throwBadWeight(_ w: TensorView<T>) throws -> Never {
    if let (index, value) = w.firstElement(where: { !($0 >= 0 && $0.isFinite) }) {
      throw SimLossError(
        .invalidValue, "\(w.name): element \(describe(shape: index)) is \(value); weights must be finite and >= 0")
    }
    throw SimLossError(.overflow, "\(w.name): the weights sum past the largest double; scale them down")
  }

  /// The sum of w_i * f(pred_i - target_i) over the given rows of a sample;
  /// writes gradientScale * w_i * f'(d_i) to the gradient if there is one.
  @inlinable
  func lossSum(_ function: PointwiseFunction, sample: Int, rows: Range<Int>, gradientScale: Double) -> Double {
    switch function {
    case .absolute: return lossSum(AbsoluteTerm.self, sample: sample, rows: rows, scale: gradientScale)
    case .squared: return lossSum(SquaredTerm.self, sample: sample, rows: rows, scale: gradientScale)
    }
  }

  @inlinable
  func lossSum<F: PointwiseTerm>(_: F.Type, sample: Int, rows: Range<Int>, scale: Double) -> Double {
    if denseSamples { return 0.0 + denseSampleSum(F.self, sample: sample, scale: scale) }
    let pv = predStrides, tv = targetStrides, wv = weightStrides, gv = gradientStrides
    let sp = geometry.rowStride(pv), st = geometry.rowStride(tv)
    let sw = weight != nil ? geometry.rowStride(wv) : 0
    let sg = gradient != nil ? geometry.rowStride(gv) : 0
    // Kernels are chosen once per call, not per element: dense rows get
    // literal unit strides so that the compiler vectorises them.
    let dense = sp == 1 && st == 1 && (weight == nil || sw == 1) && (gradient == nil || sg == 1)
    var total = 0.0
    for r in rows {
      let n = geometry.length(sample: sample, row: r)
      let p = pred.origin + geometry.offset(strides: pv, sample: sample, row: r)
      let t = target.origin + geometry.offset(strides: tv, sample: sample, row: r)
      let w = weight.map { $0.origin + geometry.offset(strides: wv, sample: sample, row: r) } ?? p
      let g = gradient.map { $0.origin + geometry.offset(strides: gv, sample: sample, row: r) } ?? p
      switch (weight != nil, gradient != nil, dense) {
      case (false, false, true): total += Self.row(F.self, Off.self, Off.self, UnitStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (false, false, false): total += Self.row(F.self, Off.self, Off.self, StridedStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (false, true, true): total += Self.row(F.self, Off.self, On.self, UnitStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (false, true, false): total += Self.row(F.self, Off.self, On.self, StridedStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (true, false, true): total += Self.row(F.self, On.self, Off.self, UnitStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (true, false, false): total += Self.row(F.self, On.self, Off.self, StridedStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (true, true, true): total += Self.row(F.self, On.self, On.self, UnitStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      case (true, true, false): total += Self.row(F.self, On.self, On.self, StridedStep.self, p, sp, t, st, w, sw, g, sg, n, scale)
      }
    }
    return total
  }

  /// A sample of `denseSamples` operands: the row kernel of `lossSum`'s
  /// dense case on the one row, so the same bits.
  @inlinable
  func denseSampleSum<F: PointwiseTerm>(_: F.Type, sample s: Int, scale: Double) -> Double {
    let n = geometry.rowLength, offsets = s &* sampleStrides
    let p = origins.pred + offsets[0], t = origins.target + offsets[1]
    let w = origins.weight + offsets[2], g = origins.gradient + offsets[3]
    switch (weight != nil, gradient != nil) {
    case (false, false): return Self.row(F.self, Off.self, Off.self, UnitStep.self, p, 1, t, 1, w, 1, g, 1, n, scale)
    case (false, true): return Self.row(F.self, Off.self, On.self, UnitStep.self, p, 1, t, 1, w, 1, g, 1, n, scale)
    case (true, false): return Self.row(F.self, On.self, Off.self, UnitStep.self, p, 1, t, 1, w, 1, g, 1, n, scale)
    case (true, true): return Self.row(F.self, On.self, On.self, UnitStep.self, p, 1, t, 1, w, 1, g, 1, n, scale)
    }
  }

  /// The gradient of one row: scale w_i f'(d_i).
  @inlinable @inline(__always)
  static func gradientRow<F: PointwiseTerm, Weighted: Flag, S: Step>(
    _: F.Type, _: Weighted.Type, _: S.Type,
    _ p: UnsafeMutablePointer<T>, _ sp: Int, _ t: UnsafeMutablePointer<T>, _ st: Int,
    _ w: UnsafeMutablePointer<T>, _ sw: Int, _ g: UnsafeMutablePointer<T>, _ sg: Int,
    _ n: Int, _ scale: Double
  ) {
    for i in 0..<n {
      let d = p[S.offset(i, sp)].asDouble - t[S.offset(i, st)].asDouble
      g[S.offset(i, sg)] = T(scale * (Weighted.isOn ? w[S.offset(i, sw)].asDouble * F.derivative(d) : F.derivative(d)))
    }
  }

  /// The sums of `samples` of `denseSamples` operands into `sums[s]`,
  /// with their gradient. When every operand holds the samples back to
  /// back and the gradient's scale is the same for all (mean, sum; none
  /// without weights, 1 / the sample's element count), the block's
  /// gradient is one row of its own, which vectorises across
  /// samples (a sample of 4 elements is all tail otherwise); the same
  /// operations per element, so the same bits.
  @inlinable
  func denseSampleSums(
    _ function: PointwiseFunction, samples: Range<Int>, into sums: UnsafeMutablePointer<Double>,
    uniformScale: Double?, scale: (Int) -> Double
  ) {
    switch function {
    case .absolute: denseSampleSums(AbsoluteTerm.self, samples: samples, into: sums, uniformScale: uniformScale, scale: scale)
    case .squared: denseSampleSums(SquaredTerm.self, samples: samples, into: sums, uniformScale: uniformScale, scale: scale)
    }
  }

  @inlinable
  func denseSampleSums<F: PointwiseTerm>(
    _: F.Type, samples: Range<Int>, into sums: UnsafeMutablePointer<Double>, uniformScale: Double?,
    scale: (Int) -> Double
  ) {
    let n = geometry.rowLength
    guard let uniformScale, gradient != nil, backToBack, let first = samples.first else {
      for s in samples { sums[s] = 0.0 + denseSampleSum(F.self, sample: s, scale: scale(s)) }
      return
    }
    let offsets = first &* sampleStrides, count = samples.count &* n
    let p = origins.pred + offsets[0], t = origins.target + offsets[1]
    let w = origins.weight + offsets[2], g = origins.gradient + offsets[3]
    if weight != nil {
      Self.gradientRow(F.self, On.self, UnitStep.self, p, 1, t, 1, w, 1, g, 1, count, uniformScale)
    } else {
      Self.gradientRow(F.self, Off.self, UnitStep.self, p, 1, t, 1, w, 1, g, 1, count, uniformScale)
    }
    for s in samples {
      let o = s &* sampleStrides
      let ps = origins.pred + o[0], ts = origins.target + o[1], ws = origins.weight + o[2]
      sums[s] = 0.0 + (weight != nil
        ? Self.row(F.self, On.self, Off.self, UnitStep.self, ps, 1, ts, 1, ws, 1, ps, 1, n, 0)
        : Self.row(F.self, Off.self, Off.self, UnitStep.self, ps, 1, ts, 1, ws, 1, ps, 1, n, 0))
    }
  }

  /// One row. Differences are exact in Double for float32 inputs; the sum's
  /// order is fixed by `laneSum`. The options are type parameters, so that
  /// each combination is compiled on its own even when not inlined.
  @inlinable @inline(__always)
  static func row<F: PointwiseTerm, Weighted: Flag, Gradient: Flag, S: Step>(
    _: F.Type, _: Weighted.Type, _: Gradient.Type, _: S.Type,
    _ p: UnsafeMutablePointer<T>, _ sp: Int, _ t: UnsafeMutablePointer<T>, _ st: Int,
    _ w: UnsafeMutablePointer<T>, _ sw: Int, _ g: UnsafeMutablePointer<T>, _ sg: Int,
    _ n: Int, _ scale: Double
  ) -> Double {
    // The gradient in a loop of its own: the loop vectoriser checks at run
    // time that g does not alias the inputs, which a store inside the
    // value's lane sum would keep it from doing. The row is in L1 by then.
    if Gradient.isOn { gradientRow(F.self, Weighted.self, S.self, p, sp, t, st, w, sw, g, sg, n, scale) }
    func term(_ i: Int) -> Double {
      let d = p[S.offset(i, sp)].asDouble - t[S.offset(i, st)].asDouble
      return Weighted.isOn ? w[S.offset(i, sw)].asDouble * F.value(d) : F.value(d)
    }
    return n <= 8 ? shortLaneSum(n, term) : laneSum(n, term)
  }
}
