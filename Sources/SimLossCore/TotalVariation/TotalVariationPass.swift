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
  func rowsSum<F: PointwiseTerm>(_: F.Type, sample: Int, rows: Range<Int>, scale: Double) -> Double {
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
    if writes && F.self == AbsoluteTerm.self {
      signGradientRow(S.self, xr, sx, sy, gr, sg, width, up, down, scale)
    } else if writes {
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

  /// The anisotropic gradient of a row: scale times a sum of four signs.
  /// The sign of a float difference is exact in the element type (a rounded
  /// difference has the sign of the exact one, and is 0 only when it is),
  /// so this runs in T, twice as wide as Double.
  @inlinable @inline(__always)
  static func signGradientRow<S: Step>(
    _: S.Type, _ xr: UnsafeMutablePointer<T>, _ sx: Int, _ sy: Int,
    _ gr: UnsafeMutablePointer<T>, _ sg: Int, _ width: Int,
    _ up: Bool, _ down: Bool, _ scale: Double
  ) {
    @inline(__always)
    func sign(_ d: T) -> T { (d > 0 ? 1 : 0) - (d < 0 ? 1 : 0) }
    let c = T(scale)
    @inline(__always)
    func gradient(_ w: Int, left: Bool, right: Bool, up: Bool, down: Bool) {
      let v = xr[S.offset(w, sx)]
      var k: T = 0
      if right { k -= sign(xr[S.offset(w &+ 1, sx)] - v) }
      if left { k += sign(v - xr[S.offset(w &- 1, sx)]) }
      if down { k -= sign(xr[S.offset(w, sx) &+ sy] - v) }
      if up { k += sign(v - xr[S.offset(w, sx) &- sy]) }
      gr[S.offset(w, sg)] = c * k
    }
    let last = width &- 1
    gradient(0, left: false, right: last > 0, up: up, down: down)
    guard last > 0 else { return }
    // The four combinations of (up, down) as separate loops, so that each
    // is branch-free.
    var w = 1
    switch (up, down) {
    case (true, true): while w < last { gradient(w, left: true, right: true, up: true, down: true); w &+= 1 }
    case (true, false): while w < last { gradient(w, left: true, right: true, up: true, down: false); w &+= 1 }
    case (false, true): while w < last { gradient(w, left: true, right: true, up: false, down: true); w &+= 1 }
    case (false, false): while w < last { gradient(w, left: true, right: true, up: false, down: false); w &+= 1 }
    }
    gradient(last, left: true, right: false, up: up, down: down)
  }

  /// Isotropic total variation of the given rows of an image.
  @inlinable
  func isotropicRowsSum(sample: Int, rows: Range<Int>, eps: Double, scale: Double) -> Double {
    let width = x.shape[3], sy = x.strides[2], sx = x.strides[3]
    let gsx = gradient?.strides[3] ?? 0
    let dense = sx == 1 && (gradient == nil || gsx == 1)
    var total = 0.0
    for r in rows {
      let (xr, gr, up, down) = rowPointers(sample: sample, row: r)
      switch (gradient != nil, dense) {
      case (true, true): total += Self.isotropicRow(UnitStep.self, xr, 1, sy, gr, 1, width, up, down, true, eps, scale)
      case (true, false): total += Self.isotropicRow(StridedStep.self, xr, sx, sy, gr, gsx, width, up, down, true, eps, scale)
      case (false, true): total += Self.isotropicRow(UnitStep.self, xr, 1, sy, gr, 1, width, up, down, false, eps, scale)
      case (false, false): total += Self.isotropicRow(StridedStep.self, xr, sx, sy, gr, gsx, width, up, down, false, eps, scale)
      }
    }
    return total
  }

  /// Pixel (h, w) owns the term sqrt(dx^2 + dy^2 + eps) of its right and
  /// lower differences; its gradient also takes the terms of its left and
  /// upper neighbours, whose differences end at it.
  @inlinable @inline(__always)
  static func isotropicRow<S: Step>(
    _: S.Type, _ xr: UnsafeMutablePointer<T>, _ sx: Int, _ sy: Int,
    _ gr: UnsafeMutablePointer<T>, _ sg: Int, _ width: Int,
    _ up: Bool, _ down: Bool, _ writes: Bool, _ eps: Double, _ scale: Double
  ) -> Double {
    @inline(__always)
    func at(_ w: Int, _ dh: Int) -> Double { xr[S.offset(w, sx) &+ dh &* sy].asDouble }
    @inline(__always)
    func pixel(_ w: Int, left: Bool, right: Bool) -> Double {
      let v = at(w, 0)
      let dx = right ? at(w &+ 1, 0) - v : 0
      let dy = down ? at(w, 1) - v : 0
      let norm = (dx * dx + dy * dy + eps).squareRoot()
      if writes {
        var g = -(dx + dy) / norm
        if left {
          let l = at(w &- 1, 0)
          let lx = v - l
          let ly = down ? at(w &- 1, 1) - l : 0
          g += lx / (lx * lx + ly * ly + eps).squareRoot()
        }
        if up {
          let u = at(w, -1)
          let uy = v - u
          let ux = right ? at(w &+ 1, -1) - u : 0
          g += uy / (ux * ux + uy * uy + eps).squareRoot()
        }
        gr[S.offset(w, sg)] = T(scale * g)
      }
      return norm
    }
    let last = width &- 1
    guard last > 0 else { return pixel(0, left: false, right: false) }
    let first = pixel(0, left: false, right: true)
    let interior = laneSum(last &- 1) { k in pixel(k &+ 1, left: true, right: true) }
    return (first + interior) + pixel(last, left: true, right: false)
  }
}
