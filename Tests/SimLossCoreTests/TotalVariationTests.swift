// totalVariation (TotalVariation/*.swift): published values, the three
// kinds against float64 formulas written here, gradients against central
// differences and against the formula's gradient, layouts, and the
// properties its doc comment lists (style.md S18).
import SimLossCore
import Testing

extension TotalVariationKind: CustomTestStringConvertible {
  public var testDescription: String {
    switch self {
    case .anisotropic: "anisotropic"
    case .squared: "squared"
    case .isotropic(let eps): "isotropic(eps \(eps))"
    }
  }
}

let tvKinds: [TotalVariationKind] = [.anisotropic, .isotropic(eps: 1e-4), .squared]

/// Calls totalVariation on a logical NCHW batch stored in `layout` (x and
/// the gradient share it; gaps of x hold NaN); returns the values and the
/// gradient in logical order, and expects every gap of the gradient buffer
/// to be untouched.
func evaluateTV<T: SimLossFloat>(
  _ x: [T], shape: [Int], kind: TotalVariationKind, reduction: Reduction,
  gradient wantsGradient: Bool = true, layout: Layout? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) throws -> (values: [Double], gradient: [T]) {
  let layout = layout ?? .dense(shape)
  var xs = layout.scatter(x, shape: shape, fill: T.nan)
  var g = [T](repeating: sentinel(), count: layout.length)
  let result = try withBuffers(&xs, &g) { xs, g in
    try totalVariation(
      try view("x", xs, shape, layout), kind: kind, reduction: reduction,
      gradient: wantsGradient ? try view("grad", g, shape, layout) : nil)
  }
  if !wantsGradient {
    #expect(g.allSatisfy { $0 == sentinel() }, "gradient written without a gradient view", sourceLocation: sourceLocation)
    return (result.values, [])
  }
  layout.expectGapsUntouched(g, shape: shape, untouched: sentinel(), sourceLocation: sourceLocation)
  return (result.values, layout.gather(g, shape: shape))
}

/// Total variation from its formula, in Double: pixel (h, w) owns
/// phi(dx, dy) with dx = x[h, w+1] - x[h, w] (0 in the last column) and
/// dy = x[h+1, w] - x[h, w] (0 in the last row);
///     anisotropic phi = |dx| + |dy|, squared dx^2 + dy^2,
///     isotropic sqrt(dx^2 + dy^2 + eps).
/// The gradient adds d phi / d dx and d phi / d dy at both ends of each
/// difference.
func tvReference(
  _ x: [Double], shape: [Int], kind: TotalVariationKind, reduction: Reduction
) -> (values: [Double], gradient: [Double]) {
  let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
  func at(_ i: Int, _ k: Int, _ y: Int, _ z: Int) -> Int { ((i * c + k) * h + y) * w + z }
  let scale = reduction == .mean ? 1 / Double(n) : 1
  var sums = [Double](repeating: 0, count: n)
  var gradient = [Double](repeating: 0, count: x.count)
  for i in 0..<n {
    for k in 0..<c {
      for y in 0..<h {
        for z in 0..<w {
          let p = at(i, k, y, z)
          let right = z + 1 < w ? at(i, k, y, z + 1) : nil
          let down = y + 1 < h ? at(i, k, y + 1, z) : nil
          let dx = right.map { x[$0] - x[p] } ?? 0
          let dy = down.map { x[$0] - x[p] } ?? 0
          let (value, gx, gy): (Double, Double, Double)
          switch kind {
          case .anisotropic: (value, gx, gy) = (abs(dx) + abs(dy), sign(dx), sign(dy))
          case .squared: (value, gx, gy) = (dx * dx + dy * dy, 2 * dx, 2 * dy)
          case .isotropic(let eps):
            let norm = (dx * dx + dy * dy + eps).squareRoot()
            (value, gx, gy) = (norm, dx / norm, dy / norm)
          }
          sums[i] += value
          if let right {
            gradient[right] += scale * gx
            gradient[p] -= scale * gx
          }
          if let down {
            gradient[down] += scale * gy
            gradient[p] -= scale * gy
          }
        }
      }
    }
  }
  switch reduction {
  case .mean: return ([sums.reduce(0, +) / Double(n)], gradient)
  case .sum: return ([sums.reduce(0, +)], gradient)
  case .none: return (sums, gradient)
  }
}

@Suite struct TotalVariationTests {
  // MARK: Published values

  /// kornia's test: the 2x3 image has anisotropic TV 1.6900232.
  @Test(arguments: Element.allCases)
  func test_tv_kornia_value(_ element: Element) throws {
    try checkKornia(element.type)
  }

  func checkKornia<T: SimLossFloat>(_: T.Type) throws {
    let x: [T] = [0.09094203, 0.32630223, 0.8066123, 0.10921168, 0.09534764, 0.48588026]
    for reduction in Reduction.allCases {
      let got = try evaluateTV(x, shape: [1, 1, 2, 3], kind: .anisotropic, reduction: reduction)
      expectClose(got.values, [1.6900232], rtol: 1e-7, "\(T.self) \(reduction.testDescription)")
    }
  }

  /// A 10x10 identity image has anisotropic (and squared) TV 36, exactly:
  /// 18 unit steps along rows and 18 down columns.
  @Test(arguments: Element.allCases)
  func test_tv_identity_is_36(_ element: Element) throws {
    try checkIdentity(element.type)
  }

  func checkIdentity<T: SimLossFloat>(_: T.Type) throws {
    var x = [T](repeating: 0, count: 100)
    for i in 0..<10 { x[i * 10 + i] = 1 }
    #expect(try evaluateTV(x, shape: [1, 1, 10, 10], kind: .anisotropic, reduction: .mean).values == [36])
    #expect(try evaluateTV(x, shape: [1, 1, 10, 10], kind: .squared, reduction: .mean).values == [36])
    // Two identities, one per channel and image: .sum adds all four.
    let four = x + x + x + x
    #expect(try evaluateTV(four, shape: [2, 2, 10, 10], kind: .anisotropic, reduction: .sum).values == [144])
    #expect(try evaluateTV(four, shape: [2, 2, 10, 10], kind: .anisotropic, reduction: .none).values == [72, 72])
  }

  // MARK: Against the reference

  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_matches_float64_reference(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkReference(element.type, kind)
  }

  func checkReference<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x51)
    // Anisotropic float32 forms its differences in Float: each pixel's term
    // carries at most three roundings (TotalVariationPass.swift).
    let rtol = kind == .anisotropic && T.self == Float.self ? 2e-7 : 1e-13
    let shapes = [[3, 2, 13, 17], [1, 1, 1, 1], [2, 1, 1, 7], [1, 2, 6, 1], [1, 3, 2, 2], [2, 2, 9, 8], [1, 1, 3, 33]]
    for shape in shapes {
      let x: [T] = rng.values(shape.reduce(1, *))
      for reduction in Reduction.allCases {
        let got = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
        let want = tvReference(x.map(\.asDouble), shape: shape, kind: kind, reduction: reduction)
        let what = "\(kind.testDescription) \(T.self) \(shape) \(reduction.testDescription)"
        expectClose(got.values, want.values, rtol: rtol, "\(what) value")
        let largest = want.gradient.map(abs).max()!
        expectClose(
          got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), atol: 1e-13 * largest,
          "\(what) gradient")
        let forward = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction, gradient: false)
        expectBitwiseEqual(forward.values, got.values, "\(what) value without gradient")
      }
    }
  }

  /// An image of more than one block (16384 elements; here 205 rows of 80
  /// in each of 2 channels) still matches the formula, value and gradient:
  /// blocks start inside a channel, where the row above belongs to another
  /// block.
  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_matches_float64_reference_across_blocks(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkAcrossBlocks(element.type, kind)
  }

  func checkAcrossBlocks<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x52)
    let shape = [1, 2, 205, 80]
    let x: [T] = rng.values(shape.reduce(1, *))
    let rtol = kind == .anisotropic && T.self == Float.self ? 2e-7 : 1e-13
    let got = try evaluateTV(x, shape: shape, kind: kind, reduction: .sum)
    let want = tvReference(x.map(\.asDouble), shape: shape, kind: kind, reduction: .sum)
    expectClose(got.values, want.values, rtol: rtol, "value")
    let largest = want.gradient.map(abs).max()!
    expectClose(
      got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), atol: 1e-13 * largest, "gradient")
  }

  // MARK: Gradients

  @Test(arguments: tvKinds, Reduction.allCases)
  func test_tv_gradient_matches_central_differences(_ kind: TotalVariationKind, _ reduction: Reduction) throws {
    var rng = SplitMix64(seed: 0x53)
    let kind = kind == .isotropic(eps: 1e-4) ? .isotropic(eps: 1e-2) : kind
    let shape = [2, 2, 5, 6]
    // Pixels at least 1/120 apart: no difference is near the kink of |d|.
    let x: [Double] = rng.separated(120)
    let got = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
    let numeric = try centralDifferences(x, perSample: 60, h: 1e-6) { z in
      try evaluateTV(z, shape: shape, kind: kind, reduction: reduction, gradient: false).values
    }
    expectClose(got.gradient, numeric, rtol: 1e-6, atol: 1e-8, "\(kind.testDescription) \(reduction.testDescription)")
  }

  /// Float images give values and gradients close to those of the Double
  /// images they were rounded from.
  @Test(arguments: tvKinds)
  func test_tv_float32_close_to_float64(_ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x54)
    let shape = [2, 3, 12, 10]
    let x: [Double] = rng.separated(720)
    for reduction in Reduction.allCases {
      let double = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
      let float = try evaluateTV(x.map { Float($0) }, shape: shape, kind: kind, reduction: reduction)
      let what = "\(kind.testDescription) \(reduction.testDescription)"
      expectClose(float.values, double.values, rtol: 1e-6, "\(what) value")
      let largest = double.gradient.map(abs).max()!
      expectClose(float.gradient.map(\.asDouble), double.gradient, rtol: 1e-5, atol: 1e-6 * largest, "\(what) gradient")
    }
  }

  /// A Float image whose neighbouring pixels differ by more than
  /// Float.greatestFiniteMagnitude has a finite TV in Double (the type of
  /// the result), as the isotropic and squared kinds return.
  ///
  /// The anisotropic float32 pass forms differences in the element type
  /// (TotalVariationPass.anisotropicRow), so for [max, -max] dx overflows
  /// Float and the value is +infinity, not 2 max: the limit simloss.h
  /// documents, asserted as such.
  @Test func test_tv_float32_anisotropic_difference_past_float_max() throws {
    let big = Float.greatestFiniteMagnitude
    let exact = 2 * Double(big)
    // The other kinds, and Double, are right.
    let squared = try evaluateTV([big, -big], shape: [1, 1, 1, 2], kind: .squared, reduction: .mean)
    #expect(squared.values == [exact * exact])
    let double = try evaluateTV([Double(big), -Double(big)], shape: [1, 1, 1, 2], kind: .anisotropic, reduction: .mean)
    #expect(double.values == [exact])
    // Documented in simloss.h: anisotropic float32 forms differences in
    // float32, so a difference past Float's range gives +infinity; the
    // gradient (signs) stays exact.
    for x in [[big, -big], [-big, big]] {
      let got = try evaluateTV(x, shape: [1, 1, 1, 2], kind: .anisotropic, reduction: .mean)
      #expect(got.values == [Double.infinity])
      #expect(got.gradient == (x[0] > 0 ? [1, -1] : [-1, 1]))
    }
  }

  // MARK: Layouts

  /// NCHW, NHWC, reversed and gapped views of one logical batch give the
  /// same values and gradients bit for bit, and write no gap.
  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_layouts_bitwise_equal(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkLayouts(element.type, kind)
  }

  func checkLayouts<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x55)
    let shape = [2, 3, 16, 12]
    let x: [T] = rng.values(shape.reduce(1, *))
    let layouts: [(String, Layout)] = [
      ("NHWC", .permuted(shape, order: [0, 2, 3, 1])),
      ("CNWH", .permuted(shape, order: [1, 0, 3, 2])),
      ("reversed", .reversed(shape)),
      ("gapped rows", .gapped(shape, dimension: 2, step: 2, offset: 5)),
      ("gapped columns", .gapped(shape, dimension: 3, step: 2, offset: 1)),
    ]
    for reduction in Reduction.allCases {
      let dense = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
      for (name, layout) in layouts {
        let other = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction, layout: layout)
        let what = "\(kind.testDescription) \(reduction.testDescription) \(name)"
        expectBitwiseEqual(other.values, dense.values, "\(what) value")
        expectBitwiseEqual(other.gradient, dense.gradient, "\(what) gradient")
      }
    }
  }

  // MARK: Properties

  /// tv(x + c) = tv(x): on a dyadic grid adding 0.5 is exact, so values and
  /// gradients are equal bit for bit.
  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_shift_invariant(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkShift(element.type, kind)
  }

  func checkShift<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x56)
    let shape = [2, 2, 7, 9]
    let x: [T] = rng.dyadic(shape.reduce(1, *))
    for reduction in Reduction.allCases {
      let plain = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
      let shifted = try evaluateTV(x.map { $0 + 0.5 }, shape: shape, kind: kind, reduction: reduction)
      expectBitwiseEqual(shifted.values, plain.values, "\(kind.testDescription) value")
      expectBitwiseEqual(shifted.gradient, plain.gradient, "\(kind.testDescription) gradient")
    }
  }

  /// tv(-x) = tv(x) bit for bit, with the gradient negated.
  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_negation_invariant(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkNegation(element.type, kind)
  }

  func checkNegation<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x57)
    let shape = [2, 3, 6, 10]
    let x: [T] = rng.values(shape.reduce(1, *), in: -2...2)
    for reduction in Reduction.allCases {
      let plain = try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
      let negated = try evaluateTV(x.map { -$0 }, shape: shape, kind: kind, reduction: reduction)
      expectBitwiseEqual(negated.values, plain.values, "\(kind.testDescription) value")
      // 0 - 0 and -(0) differ in sign only; compare as numbers.
      #expect(negated.gradient == plain.gradient.map { -$0 }, "\(kind.testDescription) gradient")
    }
  }

  /// A constant image has anisotropic and squared TV 0 and isotropic TV
  /// sqrt(eps) per pixel; every gradient is 0.
  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_constant_image_gives_zero(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkConstant(element.type, kind)
  }

  func checkConstant<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    let shape = [2, 3, 5, 7]
    let x = [T](repeating: 0.3, count: shape.reduce(1, *))
    let perImage: Double
    switch kind {
    case .isotropic(let eps): perImage = 105 * eps.squareRoot()
    default: perImage = 0
    }
    let got = try evaluateTV(x, shape: shape, kind: kind, reduction: .none)
    expectClose(got.values, [perImage, perImage], rtol: 1e-14, kind.testDescription)
    #expect(got.gradient.allSatisfy { $0 == 0 })
  }

  /// TV sums over channels: each image's value is the sum of the values of
  /// its channels, taken as strided views of the same buffer.
  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_multichannel_is_sum_of_channels(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkChannels(element.type, kind)
  }

  func checkChannels<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x58)
    let (n, c, h, w) = (2, 3, 6, 9)
    var x: [T] = rng.values(n * c * h * w)
    try withBuffers(&x) { x in
      let whole = try totalVariation(try view("x", x, [n, c, h, w]), kind: kind, reduction: .none).values
      var channels = [Double](repeating: 0, count: n)
      for k in 0..<c {
        let layout = Layout(strides: [c * h * w, h * w, w, 1], offset: k * h * w, length: x.count)
        let one = try totalVariation(try view("x", x, [n, 1, h, w], layout), kind: kind, reduction: .none).values
        for i in 0..<n { channels[i] += one[i] }
      }
      expectClose(whole, channels, rtol: 1e-14, kind.testDescription)
    }
  }

  // MARK: Errors

  @Test(arguments: Element.allCases)
  func test_tv_refuses_bad_arguments(_ element: Element) throws {
    try checkBadArguments(element.type)
  }

  func checkBadArguments<T: SimLossFloat>(_: T.Type) throws {
    var a = [T](repeating: 0.5, count: 64)
    var b = [T](repeating: 0, count: 64)
    try withBuffers(&a, &b) { a, b in
      let x = try TensorView(name: "x", buffer: a, shape: [1, 2, 3, 4])
      expectError(.rank, "x: expected rank 4 (N, C, H, W), got rank 3 with shape (2, 3, 4)") {
        try totalVariation(try TensorView(name: "x", buffer: a, shape: [2, 3, 4]))
      }
      expectError(.rank, "x: expected rank 4 (N, C, H, W), got rank 5 with shape (1, 1, 2, 3, 4)") {
        try totalVariation(try TensorView(name: "x", buffer: a, shape: [1, 1, 2, 3, 4]))
      }
      for eps in [0, -1e-3, Double.infinity, Double.nan] {
        expectError(.invalidArgument, "eps: \(eps) must be finite and > 0") {
          try totalVariation(x, kind: .isotropic(eps: eps))
        }
      }
      expectError(.shapeMismatch, "grad: shape (1, 2, 4, 3) does not match x shape (1, 2, 3, 4)") {
        try totalVariation(x, gradient: try TensorView(name: "grad", buffer: b, shape: [1, 2, 4, 3]))
      }
      expectError(.overlap, "grad: output memory overlaps input x") {
        try totalVariation(x, gradient: try TensorView(name: "grad", buffer: a, offset: 23, shape: [1, 2, 3, 4]))
      }
      let shared = try TensorView(name: "grad", buffer: b, shape: [1, 1, 3, 4]).broadcast(to: [1, 2, 3, 4])
      expectError(.overlap, "grad: strides (12, 0, 4, 1) for shape (1, 2, 3, 4) make elements share memory") {
        try totalVariation(x, gradient: shared)
      }
      _ = try totalVariation(x, gradient: try TensorView(name: "grad", buffer: a, offset: 24, shape: [1, 2, 3, 4]))
    }
  }
}
