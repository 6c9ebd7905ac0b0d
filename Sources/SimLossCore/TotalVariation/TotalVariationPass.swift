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
      case (true, true): total += Self.row(F.self, xr, 1, sy, gr, 1, width, up, down, true, scale)
      case (true, false): total += Self.row(F.self, xr, sx, sy, gr, gsx, width, up, down, true, scale)
      case (false, true): total += Self.row(F.self, xr, 1, sy, gr, 1, width, up, down, false, scale)
      case (false, false): total += Self.row(F.self, xr, sx, sy, gr, gsx, width, up, down, false, scale)
      }
    }
    return total
  }

  @inlinable @inline(__always)
  static func row<F: PointwiseTerm>(
    _: F.Type, _ xr: UnsafeMutablePointer<T>, _ sx: Int, _ sy: Int,
    _ gr: UnsafeMutablePointer<T>, _ sg: Int, _ width: Int,
    _ up: Bool, _ down: Bool, _ writes: Bool, _ scale: Double
  ) -> Double {
    @inline(__always)
    func pixel(_ w: Int, left: Bool, right: Bool) -> Double {
      let v = xr[w &* sx].asDouble
      var value = 0.0, g = 0.0
      if right {
        let dx = xr[(w &+ 1) &* sx].asDouble - v
        value += F.value(dx)
        g -= F.derivative(dx)
      }
      if down {
        let dy = xr[w &* sx &+ sy].asDouble - v
        value += F.value(dy)
        g -= F.derivative(dy)
      }
      if writes {
        if left { g += F.derivative(v - xr[(w &- 1) &* sx].asDouble) }
        if up { g += F.derivative(v - xr[w &* sx &- sy].asDouble) }
        gr[w &* sg] = T(scale * g)
      }
      return value
    }
    let last = width &- 1
    return laneSum(width) { w in pixel(w, left: w > 0, right: w < last) }
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
      case (true, true): total += Self.isotropicRow(xr, 1, sy, gr, 1, width, up, down, true, eps, scale)
      case (true, false): total += Self.isotropicRow(xr, sx, sy, gr, gsx, width, up, down, true, eps, scale)
      case (false, true): total += Self.isotropicRow(xr, 1, sy, gr, 1, width, up, down, false, eps, scale)
      case (false, false): total += Self.isotropicRow(xr, sx, sy, gr, gsx, width, up, down, false, eps, scale)
      }
    }
    return total
  }

  /// Pixel (h, w) owns the term sqrt(dx^2 + dy^2 + eps) of its right and
  /// lower differences; its gradient also takes the terms of its left and
  /// upper neighbours, whose differences end at it.
  @inlinable @inline(__always)
  static func isotropicRow(
    _ xr: UnsafeMutablePointer<T>, _ sx: Int, _ sy: Int,
    _ gr: UnsafeMutablePointer<T>, _ sg: Int, _ width: Int,
    _ up: Bool, _ down: Bool, _ writes: Bool, _ eps: Double, _ scale: Double
  ) -> Double {
    @inline(__always)
    func at(_ w: Int, _ dh: Int) -> Double { xr[w &* sx &+ dh &* sy].asDouble }
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
        gr[w &* sg] = T(scale * g)
      }
      return norm
    }
    let last = width &- 1
    return laneSum(width) { w in pixel(w, left: w > 0, right: w < last) }
  }
}
