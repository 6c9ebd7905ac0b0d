/// The row kernels of total variation. A row is one (c, h) line of an
/// image; its value collects the differences towards the right and the row
/// below, and its gradient all four differences that touch it.
@usableFromInline
struct TotalVariationPass<T: SimLossFloat> {
  @usableFromInline let x: TensorView<T>
  @usableFromInline let gradient: TensorView<T>?
  @usableFromInline let plan: BlockPlan

  @inlinable
  init(x: TensorView<T>, gradient: TensorView<T>?) {
    self.x = x
    self.gradient = gradient
    plan = BlockPlan(samples: x.shape[0], rows: x.shape[1] * x.shape[2], rowLength: x.shape[3])
  }

  /// The scratch bytes a block's rows take: six rows of Double (isotropic)
  /// or four of T (anisotropic), whichever is more.
  ///
  /// - Throws: `.outOfMemory` when a broadcast width makes them absurd.
  @inlinable
  func scratchBytes() throws -> Int {
    8 * (try scratchCount("\(x.name)", 6, x.shape[3]))
  }

  /// Pointers to row h of channel c of image n in x and the gradient (the
  /// gradient pointer aliases x when there is no gradient; it is then never
  /// written).
  @inlinable @inline(__always)
  func rowPointers(sample: Int, row: Int) -> (UnsafeMutablePointer<T>, UnsafeMutablePointer<T>, up: Bool, down: Bool) {
    let height = x.shape[2]
    let c = row / height, h = row % height
    let xr = x.origin + (sample &* x.strides[0] &+ c &* x.strides[1] &+ h &* x.strides[2])
    var gr = xr
    if let gradient {
      gr = gradient.origin + (sample &* gradient.strides[0] &+ c &* gradient.strides[1] &+ h &* gradient.strides[2])
    }
    return (xr, gr, h > 0, h < height - 1)
  }

  /// Anisotropic (F = AbsoluteTerm) or squared (F = SquaredTerm) total
  /// variation of the given rows of an image.
  @inlinable
  func rowsSum<F: PointwiseTerm>(
    _: F.Type, sample: Int, rows: Range<Int>, scale: Double, scratch: UnsafeMutableRawPointer
  ) -> Double {
    if F.self == AbsoluteTerm.self {
      return anisotropicRows(sample: sample, rows: rows, scale: scale, scratch: scratch)
    }
    let width = x.shape[3], sy = x.strides[2], sx = x.strides[3]
    let gsx = gradient?.strides[3] ?? 0
    let dense = sx == 1 && (gradient == nil || gsx == 1)
    var total = 0.0
    for r in rows {
      let (xr, gr, up, down) = rowPointers(sample: sample, row: r)
      switch (gradient != nil, dense) {
      case (true, true): total += Self.row(F.self, UnitStep.self, xr, 1, sy, gr, 1, width, up, down, true, scale)
      case (true, false): total += Self.row(F.self, StridedStep.self, xr, sx, sy, gr, gsx, width, up, down, true, scale)
      case (false, true): total += Self.row(F.self, UnitStep.self, xr, 1, sy, gr, 1, width, up, down, false, scale)
      case (false, false): total += Self.row(F.self, StridedStep.self, xr, sx, sy, gr, gsx, width, up, down, false, scale)
      }
    }
    return total
  }

  /// The value sums the right differences of the row, then the downward
  /// ones, each in `laneSum` order; the gradient loop is split into its two
  /// edge pixels and a branch-free interior.
  @inlinable @inline(__always)
  static func row<F: PointwiseTerm, S: Step>(
    _: F.Type, _: S.Type, _ xr: UnsafeMutablePointer<T>, _ sx: Int, _ sy: Int,
    _ gr: UnsafeMutablePointer<T>, _ sg: Int, _ width: Int,
    _ up: Bool, _ down: Bool, _ writes: Bool, _ scale: Double
  ) -> Double {
    @inline(__always)
    func at(_ w: Int, _ dh: Int) -> Double { xr[S.offset(w, sx) &+ dh &* sy].asDouble }
    let last = width &- 1
    // Neighbour rows as their own pointers, so that each term reads
    // base[w * sx] and the compiler sees contiguous vector loads.
    let next = xr + sx, below = xr + sy
    var value = laneSum(last) { w in F.value(next[S.offset(w, sx)].asDouble - xr[S.offset(w, sx)].asDouble) }
    if down { value += laneSum(width) { w in F.value(below[S.offset(w, sx)].asDouble - xr[S.offset(w, sx)].asDouble) } }
    if writes {
      @inline(__always)
      func gradient(_ w: Int, left: Bool, right: Bool) {
        let v = at(w, 0)
        var g = 0.0
        if right { g -= F.derivative(at(w &+ 1, 0) - v) }
        if left { g += F.derivative(v - at(w &- 1, 0)) }
        if down { g -= F.derivative(at(w, 1) - v) }
        if up { g += F.derivative(v - at(w, -1)) }
        gr[S.offset(w, sg)] = T(scale * g)
      }
      gradient(0, left: false, right: last > 0)
      if last > 0 {
        var w = 1
        while w < last {
          gradient(w, left: true, right: true)
          w &+= 1
        }
        gradient(last, left: true, right: false)
      }
    }
    return value
  }

  /// Anisotropic total variation, and its gradient if asked for, over rows
  /// of one image, in one fused pass per row.
  ///
  /// Differences are formed in the element type T: the value of a float32
  /// image is within 2e-7 (relative) of the exact one, each pixel's
  /// |dx| + |dy| carrying at most three roundings; float64 is exact to
  /// double rounding. That halves the work against Double differences and
  /// lets the pass run at memory speed.
  ///
  /// The gradient at (h, w) is scale times
  ///     sign(dx[w-1]) - sign(dx[w]) + sign(dy[h-1]) - sign(dy[h]).
  /// Each sign is computed once into a row of scratch and read twice: the
  /// downward signs of row h are the upward signs of row h+1, carried to the
  /// next row of the block. The sign of a rounded difference is exact (it
  /// has the sign of the exact difference and is 0 only when that is).
  /// Per-pixel terms go to a scratch row that `laneSum` adds, so the sum's
  /// order is fixed whatever the layout.
  @inlinable
  func anisotropicRows(sample: Int, rows: Range<Int>, scale: Double, scratch: UnsafeMutableRawPointer) -> Double {
    let width = x.shape[3], sy = x.strides[2], sx = x.strides[3]
    let gsx = gradient?.strides[3] ?? 0
    let dense = sx == 1 && (gradient == nil || gsx == 1)
    // Four rows of scratch: right signs, down signs, the down signs of the
    // row above, and the per-pixel terms.
    let scratch = scratch.bindMemory(to: T.self, capacity: 4 * width)
    var down = scratch, above = scratch + width
    let right = scratch + 2 * width, terms = scratch + 3 * width
    var total = 0.0
    var previous = -2
    @inline(__always) func f(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
      UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    for r in rows {
      let (xr, gr, hasUp, hasDown) = rowPointers(sample: sample, row: r)
      let carried = hasUp && previous == r - 1
      if carried { swap(&down, &above) }
      switch (gradient != nil, dense) {
      case (true, true) where width > 8 && T.self == Float.self:
        anisotropicFloatRow(On.self, f(xr), f(xr + 1), sy, f(gr), width, hasUp, hasDown, carried, f(right), f(right - 1), f(down), f(above), f(terms), scale)
      case (false, true) where width > 8 && T.self == Float.self:
        anisotropicFloatRow(Off.self, f(xr), f(xr + 1), sy, f(gr), width, hasUp, hasDown, carried, f(right), f(right - 1), f(down), f(above), f(terms), scale)
      case (true, true):
        Self.anisotropicRow(UnitStep.self, On.self, xr, 1, sy, gr, 1, width, hasUp, hasDown, carried, right, down, above, terms, scale)
      case (true, false):
        Self.anisotropicRow(StridedStep.self, On.self, xr, sx, sy, gr, gsx, width, hasUp, hasDown, carried, right, down, above, terms, scale)
      case (false, true):
        Self.anisotropicRow(UnitStep.self, Off.self, xr, 1, sy, gr, 1, width, hasUp, hasDown, carried, right, down, above, terms, scale)
      case (false, false):
        Self.anisotropicRow(StridedStep.self, Off.self, xr, sx, sy, gr, gsx, width, hasUp, hasDown, carried, right, down, above, terms, scale)
      }
      total += laneSum(width) { w in terms[w].asDouble }
      previous = r
    }
    return total
  }

  @inlinable @inline(__always)
  static func anisotropicRow<S: Step, Writes: Flag>(
    _: S.Type, _: Writes.Type, _ xr: UnsafeMutablePointer<T>, _ sx: Int, _ sy: Int,
    _ gr: UnsafeMutablePointer<T>, _ sg: Int, _ width: Int,
    _ hasUp: Bool, _ hasDown: Bool, _ carried: Bool,
    _ right: UnsafeMutablePointer<T>, _ down: UnsafeMutablePointer<T>, _ above: UnsafeMutablePointer<T>,
    _ terms: UnsafeMutablePointer<T>, _ scale: Double
  ) {
    @inline(__always)
    func sign(_ d: T) -> T { (d > 0 ? 1 : 0) - (d < 0 ? 1 : 0) }
    let last = width &- 1
    let next = xr + sx, below = xr + sy, over = xr - sy
    // Terms and signs; the last column has no right difference, the last
    // row no downward one.
    if hasDown {
      for w in 0..<last {
        let v = xr[S.offset(w, sx)]
        let dx = next[S.offset(w, sx)] - v, dy = below[S.offset(w, sx)] - v
        terms[w] = abs(dx) + abs(dy)
        if Writes.isOn { right[w] = sign(dx); down[w] = sign(dy) }
      }
      let dy = below[S.offset(last, sx)] - xr[S.offset(last, sx)]
      terms[last] = abs(dy)
      if Writes.isOn { right[last] = 0; down[last] = sign(dy) }
    } else {
      for w in 0..<last {
        let dx = next[S.offset(w, sx)] - xr[S.offset(w, sx)]
        terms[w] = abs(dx)
        if Writes.isOn { right[w] = sign(dx); down[w] = 0 }
      }
      terms[last] = 0
      if Writes.isOn { right[last] = 0; down[last] = 0 }
    }
    guard Writes.isOn else { return }
    if hasUp && !carried {
      for w in 0..<width { above[w] = sign(xr[S.offset(w, sx)] - over[S.offset(w, sx)]) }
    } else if !hasUp {
      for w in 0..<width { above[w] = 0 }
    }
    let c = T(scale)
    gr[0] = c * ((above[0] - down[0]) - right[0])
    for w in 1..<max(1, width) {
      gr[S.offset(w, sg)] = c * ((above[w] - down[w]) + (right[w &- 1] - right[w]))
    }
  }

  /// Isotropic total variation of the given rows of an image, and its
  /// gradient if asked for.
  ///
  /// Pixel (h, w) owns the term n = sqrt(dx^2 + dy^2 + eps) of its right
  /// and lower differences (0 past the last column and row). The term's
  /// derivatives reach the pixel, its right neighbour and the pixel below,
  /// so the gradient at (h, w) is scale times
  ///     -(a[h, w] + b[h, w]) + a[h, w-1] + b[h-1, w],  a = dx / n, b = dy / n.
  /// Each row's n, a and b are computed once, in Double, in loops that
  /// vectorise (given -fno-math-errno, Package.swift): one square root and
  /// two divisions per pixel, where taking each neighbour's term afresh cost
  /// three of each, in scalar code (forward+backward on 8x3x256x256, one
  /// thread: 16 ms before, 2.9 ms). b of the row above is carried to the
  /// next row of the block; a block that starts inside an image computes it.
  @inlinable
  func isotropicRowsSum(
    sample: Int, rows: Range<Int>, eps: Double, scale: Double, scratch: UnsafeMutableRawPointer
  ) -> Double {
    let width = x.shape[3], sy = x.strides[2], sx = x.strides[3]
    let gsx = gradient?.strides[3] ?? 0
    // Six rows of Double scratch: n, a, b, b of the row above, and the
    // row and the row below widened (so that the loops that take square
    // roots and quotients read dense Double rows, and vectorise).
    let scratch = scratch.bindMemory(to: Double.self, capacity: 6 * width)
    let norm = scratch, a = scratch + width
    var b = scratch + 2 * width, bAbove = scratch + 3 * width
    var values = scratch + 4 * width, belowValues = scratch + 5 * width
    // The row whose widened values `belowValues` holds (each row is the
    // row below of the one before it), or -1.
    var widenedRow = -1
    let writes = gradient != nil
    /// n (and a and b when the gradient is asked for) of row `r`, at `xr`,
    /// which has a row below when `down`.
    @inline(__always)
    func terms(_ r: Int, _ xr: UnsafeMutablePointer<T>, down: Bool, b: UnsafeMutablePointer<Double>) {
      if widenedRow == r {
        swap(&values, &belowValues)
      } else {
        for w in 0..<width { values[w] = xr[w &* sx].asDouble }
      }
      widenedRow = down ? r &+ 1 : -1
      if down {
        let below = xr + sy
        for w in 0..<width { belowValues[w] = below[w &* sx].asDouble }
      } else {
        for w in 0..<width { belowValues[w] = values[w] }
      }
      let last = width &- 1
      for w in 0..<last {
        let dx = values[w &+ 1] - values[w], dy = belowValues[w] - values[w]
        norm[w] = (dx * dx + dy * dy + eps).squareRoot()
      }
      let dyLast = belowValues[last] - values[last]
      norm[last] = (dyLast * dyLast + eps).squareRoot()
      guard writes else { return }
      for w in 0..<last {
        a[w] = (values[w &+ 1] - values[w]) / norm[w]
        b[w] = (belowValues[w] - values[w]) / norm[w]
      }
      a[last] = 0
      b[last] = dyLast / norm[last]
    }
    var total = 0.0
    var previous = -2
    for r in rows {
      let (xr, gr, up, down) = rowPointers(sample: sample, row: r)
      if writes && up && previous != r &- 1 {
        terms(r &- 1, xr - sy, down: true, b: bAbove)
      }
      terms(r, xr, down: down, b: b)
      total += laneSum(width) { w in norm[w] }
      if gradient != nil {
        let c = scale
        gr[0] = T(c * ((up ? bAbove[0] : 0) - (a[0] + b[0])))
        for w in 1..<Swift.max(1, width) {
          gr[w &* gsx] = T(c * ((a[w &- 1] + (up ? bAbove[w] : 0)) - (a[w] + b[w])))
        }
      }
      swap(&b, &bAbove)
      previous = r
    }
    return total
  }
}

/// `TotalVariationPass.anisotropicRow` for a dense float32 row of more than
/// 8 pixels, in explicit 8-lane vectors (float32 only: SIMD code generic
/// over T is not specialised into vector instructions). Each loop ends on a
/// vector that overlaps the one before it, storing the same values twice,
/// rather than on scalar iterations: the compiler's vectorisation of
/// `anisotropicRow` left 15 scalar iterations on a 255-difference row, as
/// long as its vector body (1.09 -> 0.74 ms on 8x3x256x256, one thread).
/// Same terms and signs as `anisotropicRow`, bit for bit.
///
/// `next` is `xr + 1` and `rightBefore` is `right - 1`, passed in, and the
/// function is never inlined: seeing them as offsets of the same pointer,
/// LLVM merged each pair of overlapping loads into one load and four
/// shuffles, where one unaligned load costs nothing extra. |d| clears the
/// sign bit, as Swift's scalar abs does (three instructions as a select).
@inlinable @inline(never)
func anisotropicFloatRow<Writes: Flag>(
  _: Writes.Type, _ xr: UnsafeMutablePointer<Float>, _ next: UnsafeMutablePointer<Float>, _ sy: Int,
  _ gr: UnsafeMutablePointer<Float>, _ width: Int, _ hasUp: Bool, _ hasDown: Bool, _ carried: Bool,
  _ right: UnsafeMutablePointer<Float>, _ rightBefore: UnsafeMutablePointer<Float>,
  _ down: UnsafeMutablePointer<Float>, _ above: UnsafeMutablePointer<Float>,
  _ terms: UnsafeMutablePointer<Float>, _ scale: Double
) {
  typealias V = SIMD8<Float>
  @inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
  @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
  @inline(__always) func magnitude(_ d: V) -> V {
    unsafeBitCast(unsafeBitCast(d, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
  }
  // (d > 0) - (d < 0) as the difference of the two comparison masks
  // (all ones, -1, where true), converted once: four instructions, not five.
  @inline(__always) func sign(_ d: V) -> V {
    let negative = SIMD8<Int32>(repeating: 0).replacing(with: -1, where: d .< 0)
    let positive = SIMD8<Int32>(repeating: 0).replacing(with: -1, where: d .> 0)
    return V(negative &- positive)
  }
  let last = width &- 1
  let below = xr + sy, over = xr - sy
  if hasDown {
    for w in VectorStarts(0, last) {
      let v = load(xr + w)
      let dx = load(next + w) - v, dy = load(below + w) - v
      store(magnitude(dx) + magnitude(dy), terms + w)
      if Writes.isOn {
        store(sign(dx), right + w)
        store(sign(dy), down + w)
      }
    }
    let dy = below[last] - xr[last]
    terms[last] = abs(dy)
    if Writes.isOn {
      right[last] = 0
      down[last] = (dy > 0 ? 1 : 0) - (dy < 0 ? 1 : 0)
    }
  } else {
    for w in VectorStarts(0, last) {
      let dx = load(next + w) - load(xr + w)
      store(magnitude(dx), terms + w)
      if Writes.isOn {
        store(sign(dx), right + w)
        store(V(repeating: 0), down + w)
      }
    }
    terms[last] = 0
    if Writes.isOn { right[last] = 0; down[last] = 0 }
  }
  guard Writes.isOn else { return }
  if hasUp && !carried {
    for w in VectorStarts(0, width) { store(sign(load(xr + w) - load(over + w)), above + w) }
  } else if !hasUp {
    for w in VectorStarts(0, width) { store(V(repeating: 0), above + w) }
  }
  let c = Float(scale)
  gr[0] = c * ((above[0] - down[0]) - right[0])
  for w in VectorStarts(1, width) {
    store(c * ((load(above + w) - load(down + w)) + (load(rightBefore + w) - load(right + w))), gr + w)
  }
}

/// The starts of the 8-lane vectors that cover first..<end (end - first >=
/// 8): first, first + 8, ..., then end - 8 if the last ones left a
/// remainder (that vector overlaps its predecessor). A sequence rather than
/// a function taking the loop body as a closure, which the optimiser left
/// as a call per vector once the kernel was kept out of line.
@usableFromInline
struct VectorStarts: Sequence, IteratorProtocol {
  @usableFromInline var w: Int
  @usableFromInline let end: Int

  @inlinable @inline(__always)
  init(_ first: Int, _ end: Int) {
    w = first
    self.end = end
  }

  @inlinable @inline(__always)
  mutating func next() -> Int? {
    if w &+ 8 <= end {
      defer { w &+= 8 }
      return w
    }
    if w < end {
      w = end
      return end &- 8
    }
    return nil
  }
}
