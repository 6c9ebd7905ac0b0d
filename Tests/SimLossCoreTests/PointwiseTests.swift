// l1Loss, mseLoss, pointwiseLoss and psnr (Pointwise/*.swift): values and
// gradients against float64 formulas written here, weights, errors, central
// differences, and the properties their doc comments list (style.md S18).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SimLossCore
import Testing

// MARK: - Running the losses

/// A pointwise loss as a test argument.
enum PointwiseLossKind: Sendable, CustomTestStringConvertible {
  case l1
  case mse
  case psnr(dataRange: Double)

  var testDescription: String {
    switch self {
    case .l1: "l1"
    case .mse: "mse"
    case .psnr(let range): "psnr(data_range \(range))"
    }
  }

  var takesWeights: Bool {
    if case .psnr = self { return false }
    return true
  }
}

/// The gradient buffer's initial value: a slot that still holds it after a
/// call was not written.
func sentinel<T: SimLossFloat>() -> T { T(7.25) }

/// Calls `loss` on logical row-major inputs stored in `layout` (pred,
/// target and the gradient share it; gaps hold NaN) with dense weights of
/// `weightShape`; returns the values and the gradient in logical order, and
/// expects every gap of the gradient buffer to be untouched.
func evaluate<T: SimLossFloat>(
  _ loss: PointwiseLossKind, shape: [Int], pred: [T], target: [T],
  weight: [T]? = nil, weightShape: [Int]? = nil, reduction: Reduction,
  gradient wantsGradient: Bool = true, layout: Layout? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) throws -> (values: [Double], gradient: [T]) {
  let layout = layout ?? .dense(shape)
  var p = layout.scatter(pred, shape: shape, fill: T.nan)
  var t = layout.scatter(target, shape: shape, fill: T.nan)
  var g = [T](repeating: sentinel(), count: layout.length)
  var w = weight ?? [0]
  let result = try withBuffers(&p, &t, &g, &w) { p, t, g, w in
    let pv = try view("pred", p, shape, layout)
    let tv = try view("target", t, shape, layout)
    let gv = wantsGradient ? try view("grad", g, shape, layout) : nil
    let wv = try weight.map { _ in try view("weight", w, weightShape ?? shape) }
    switch loss {
    case .l1: return try l1Loss(pred: pv, target: tv, weight: wv, reduction: reduction, gradient: gv)
    case .mse: return try mseLoss(pred: pv, target: tv, weight: wv, reduction: reduction, gradient: gv)
    case .psnr(let range):
      precondition(weight == nil, "psnr takes no weights")
      return try psnr(pred: pv, target: tv, dataRange: range, reduction: reduction, gradient: gv)
    }
  }
  if !wantsGradient {
    #expect(g.allSatisfy { $0 == sentinel() }, "gradient written without a gradient view", sourceLocation: sourceLocation)
    return (result.values, [])
  }
  layout.expectGapsUntouched(g, shape: shape, untouched: sentinel(), sourceLocation: sourceLocation)
  return (result.values, layout.gather(g, shape: shape))
}

// MARK: - The float64 reference

/// Value and gradient of a pointwise loss from its formula, in Double, on
/// inputs already widened; `weight` is broadcast to the full shape.
///
///     value_n = sum_i w_i f(d_i) / sum_i w_i,  f = |.| or (.)^2
///     psnr_n  = 10 log10(L^2 / mse_n)
func pointwiseReference(
  _ loss: PointwiseLossKind, shape: [Int], pred: [Double], target: [Double], weight: [Double]?,
  reduction: Reduction
) -> (values: [Double], gradient: [Double]) {
  let samples = shape[0], perSample = pred.count / samples
  let d = zip(pred, target).map { $0 - $1 }
  if case .psnr(let range) = loss {
    let mse = (0..<samples).map { n in
      d[(n * perSample)..<((n + 1) * perSample)].reduce(0) { $0 + $1 * $1 } / Double(perSample)
    }
    let psnr = mse.map { 10 * log10(range * range / $0) }
    let perSampleScale = reduction == .mean ? 1 / Double(samples) : 1
    let gradient = d.indices.map { i in
      let m = mse[i / perSample]
      return m > 0 ? -20 * d[i] / (log(10) * Double(perSample) * m) * perSampleScale : 0
    }
    switch reduction {
    case .mean: return ([psnr.reduce(0, +) / Double(samples)], gradient)
    case .sum: return ([psnr.reduce(0, +)], gradient)
    case .none: return (psnr, gradient)
    }
  }
  let f: (Double) -> Double = loss.isL1 ? { abs($0) } : { $0 * $0 }
  let fPrime: (Double) -> Double = loss.isL1 ? { sign($0) } : { 2 * $0 }
  let w = weight ?? [Double](repeating: 1, count: d.count)
  var sums = [Double](repeating: 0, count: samples)
  var weights = [Double](repeating: 0, count: samples)
  for i in d.indices {
    sums[i / perSample] += w[i] * f(d[i])
    weights[i / perSample] += w[i]
  }
  let totalWeight = weights.reduce(0, +)
  let gradient = d.indices.map { i -> Double in
    let g = w[i] * fPrime(d[i])
    switch reduction {
    case .mean: return totalWeight > 0 ? g / totalWeight : 0
    case .sum: return g
    case .none: return weights[i / perSample] > 0 ? g / weights[i / perSample] : 0
    }
  }
  switch reduction {
  case .mean: return ([totalWeight > 0 ? sums.reduce(0, +) / totalWeight : 0], gradient)
  case .sum: return ([sums.reduce(0, +)], gradient)
  case .none: return (zip(sums, weights).map { $1 > 0 ? $0 / $1 : 0 }, gradient)
  }
}

extension PointwiseLossKind {
  var isL1: Bool {
    if case .l1 = self { return true }
    return false
  }
}

/// Values are exact to double rounding for both element types; a gradient
/// is rounded once to T.
func gradientTolerance<T: SimLossFloat>(_: T.Type) -> Double { Double(T.ulpOfOne) + 1e-13 }

/// `count` targets at least 0.05 away from `pred`, either side: no
/// difference is near the kink of |d|, in Float or Double.
func separatedTargets(_ pred: [Double], _ rng: inout SplitMix64) -> [Double] {
  pred.map { p in p + (rng.next() & 1 == 0 ? 1 : -1) * rng.uniform(0.05...0.5) }
}

let pointwiseShapes: [[Int]] = [[5], [3, 7], [2, 3, 4, 5], [2, 1, 3, 1, 4], [1, 2, 19], [3, 1, 1, 1, 1, 1, 1, 9]]

// MARK: - Tests

@Suite struct PointwiseTests {
  // MARK: Against the reference

  @Test(arguments: Element.allCases, Reduction.allCases)
  func test_l1_matches_float64_reference(_ element: Element, _ reduction: Reduction) throws {
    try checkReference(element.type, .l1, reduction, seed: 0x11)
  }

  @Test(arguments: Element.allCases, Reduction.allCases)
  func test_mse_matches_float64_reference(_ element: Element, _ reduction: Reduction) throws {
    try checkReference(element.type, .mse, reduction, seed: 0x12)
  }

  @Test(arguments: Element.allCases, Reduction.allCases)
  func test_psnr_matches_float64_reference(_ element: Element, _ reduction: Reduction) throws {
    try checkReference(element.type, .psnr(dataRange: 1), reduction, seed: 0x13)
    try checkReference(element.type, .psnr(dataRange: 255), reduction, seed: 0x14, scale: 255)
  }

  func checkReference<T: SimLossFloat>(
    _: T.Type, _ loss: PointwiseLossKind, _ reduction: Reduction, seed: UInt64, scale: Double = 1
  ) throws {
    var rng = SplitMix64(seed: seed)
    for shape in pointwiseShapes {
      let count = shape.reduce(1, *)
      let pred: [T] = rng.values(count, in: 0...scale), target: [T] = rng.values(count, in: 0...scale)
      let got = try evaluate(loss, shape: shape, pred: pred, target: target, reduction: reduction)
      let want = pointwiseReference(
        loss, shape: shape, pred: pred.map(\.asDouble), target: target.map(\.asDouble), weight: nil,
        reduction: reduction)
      let what = "\(loss.testDescription) \(T.self) \(shape) \(reduction.testDescription)"
      expectClose(got.values, want.values, rtol: 1e-13, "\(what) value")
      expectClose(got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), "\(what) gradient")
      // Without a gradient, the same values bit for bit.
      let forward = try evaluate(loss, shape: shape, pred: pred, target: target, reduction: reduction, gradient: false)
      expectBitwiseEqual(forward.values, got.values, "\(what) value without gradient")
    }
  }

  /// Weights of every broadcastable shape, with zeros among them, weight
  /// both the value and the gradient as the formula says.
  @Test(arguments: Element.allCases, Reduction.allCases)
  func test_pointwise_weights_broadcast(_ element: Element, _ reduction: Reduction) throws {
    try checkWeights(element.type, reduction)
  }

  func checkWeights<T: SimLossFloat>(_: T.Type, _ reduction: Reduction) throws {
    var rng = SplitMix64(seed: 0x21)
    let shape = [3, 2, 4, 5], count = 120
    for weightShape in [[3, 2, 4, 5], [1, 2, 1, 1], [3, 1, 1, 1], [1, 1, 1, 5], [1, 1, 1, 1], [3, 2, 1, 5]] {
      var weight: [T] = rng.values(weightShape.reduce(1, *), in: 0...3)
      if weight.count > 4 { weight[1] = 0; weight[weight.count - 2] = 0 }
      let pred: [T] = rng.values(count), target: [T] = rng.values(count)
      let wide = broadcast(weight.map(\.asDouble), from: weightShape, to: shape)
      for loss in [PointwiseLossKind.l1, .mse] {
        let got = try evaluate(
          loss, shape: shape, pred: pred, target: target, weight: weight, weightShape: weightShape,
          reduction: reduction)
        let want = pointwiseReference(
          loss, shape: shape, pred: pred.map(\.asDouble), target: target.map(\.asDouble), weight: wide,
          reduction: reduction)
        let what = "\(loss.testDescription) \(T.self) weight \(weightShape) \(reduction.testDescription)"
        expectClose(got.values, want.values, rtol: 1e-13, "\(what) value")
        expectClose(got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), "\(what) gradient")
      }
    }
  }

  /// Weights of 1 give the unweighted loss bit for bit.
  @Test(arguments: Element.allCases)
  func test_pointwise_unit_weights_are_no_weights(_ element: Element) throws {
    try checkUnitWeights(element.type)
  }

  func checkUnitWeights<T: SimLossFloat>(_: T.Type) throws {
    var rng = SplitMix64(seed: 0x22)
    let shape = [2, 3, 9]
    let pred: [T] = rng.values(54), target: [T] = rng.values(54)
    for loss in [PointwiseLossKind.l1, .mse] {
      for reduction in Reduction.allCases {
        let plain = try evaluate(loss, shape: shape, pred: pred, target: target, reduction: reduction)
        let ones = try evaluate(
          loss, shape: shape, pred: pred, target: target, weight: [1], weightShape: [1, 1, 1], reduction: reduction)
        expectBitwiseEqual(ones.values, plain.values, "\(loss.testDescription) value")
        expectBitwiseEqual(ones.gradient, plain.gradient, "\(loss.testDescription) gradient")
      }
    }
  }

  /// A sample (or batch) whose weights sum to 0 has value 0 and gradient 0;
  /// the other samples are unaffected.
  @Test(arguments: Element.allCases)
  func test_pointwise_zero_weights_give_zero(_ element: Element) throws {
    try checkZeroWeights(element.type)
  }

  func checkZeroWeights<T: SimLossFloat>(_: T.Type) throws {
    var rng = SplitMix64(seed: 0x23)
    let shape = [3, 2, 5], count = 30
    let pred: [T] = rng.values(count), target: [T] = rng.values(count)
    for loss in [PointwiseLossKind.l1, .mse] {
      for reduction in Reduction.allCases {
        let none = try evaluate(
          loss, shape: shape, pred: pred, target: target, weight: [0], weightShape: [1, 1, 1], reduction: reduction)
        #expect(none.values.allSatisfy { $0 == 0 }, "\(loss.testDescription) \(reduction.testDescription)")
        #expect(none.gradient.allSatisfy { $0 == 0 })
      }
      // Sample 1 weighs nothing.
      let weight: [T] = [1, 0, 2]
      let got = try evaluate(
        loss, shape: shape, pred: pred, target: target, weight: weight, weightShape: [3, 1, 1], reduction: .none)
      let want = pointwiseReference(
        loss, shape: shape, pred: pred.map(\.asDouble), target: target.map(\.asDouble),
        weight: broadcast([1, 0, 2], from: [3, 1, 1], to: shape), reduction: .none)
      #expect(got.values[1] == 0)
      #expect(got.gradient[10..<20].allSatisfy { $0 == 0 })
      expectClose(got.values, want.values, rtol: 1e-13, "\(loss.testDescription) value")
      expectClose(got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), "gradient")
    }
  }

  // MARK: Errors

  /// A weight that is negative, NaN or infinite is named by its index (in
  /// pred's shape, after broadcasting) and value.
  @Test(arguments: Element.allCases)
  func test_pointwise_refuses_bad_weight(_ element: Element) throws {
    try checkBadWeight(element.type)
  }

  func checkBadWeight<T: SimLossFloat>(_: T.Type) throws {
    let shape = [2, 3, 4], count = 24
    let pred = [T](repeating: 0.5, count: count), target = [T](repeating: 0.25, count: count)
    for loss in [PointwiseLossKind.l1, .mse] {
      var weight = [T](repeating: 1, count: count)
      weight[1 * 12 + 2 * 4 + 3] = -1
      expectError(.invalidValue, "weight: element (1, 2, 3) is -1.0; weights must be finite and >= 0") {
        try evaluate(loss, shape: shape, pred: pred, target: target, weight: weight, reduction: .mean)
      }
      weight[0 * 12 + 1 * 4 + 0] = .nan
      expectError(.invalidValue, "weight: element (0, 1, 0) is nan; weights must be finite and >= 0") {
        try evaluate(loss, shape: shape, pred: pred, target: target, weight: weight, reduction: .none)
      }
      // Broadcast: the first bad element in pred's logical order.
      let row: [T] = [1, 2, .infinity, 1]
      expectError(.invalidValue, "weight: element (0, 0, 2) is inf") {
        try evaluate(loss, shape: shape, pred: pred, target: target, weight: row, weightShape: [1, 1, 4], reduction: .sum)
      }
      expectError(.invalidValue, "weight: element (0, 0, 0) is -inf") {
        try evaluate(loss, shape: shape, pred: pred, target: target, weight: [-.infinity], weightShape: [1, 1, 1], reduction: .sum)
      }
      // -0 is a weight of 0, not a negative one.
      let zero = try evaluate(loss, shape: shape, pred: pred, target: target, weight: [-0.0], weightShape: [1, 1, 1], reduction: .mean)
      #expect(zero.values == [0])
      expectError(.shapeMismatch, "weight: shape (3, 4) cannot broadcast to (2, 3, 4); each dimension must be equal or 1") {
        try evaluate(loss, shape: shape, pred: pred, target: target, weight: [T](repeating: 1, count: 12), weightShape: [3, 4], reduction: .mean)
      }
      expectError(.shapeMismatch, "weight: shape (2, 1, 2) cannot broadcast to (2, 3, 4)") {
        try evaluate(loss, shape: shape, pred: pred, target: target, weight: [1, 1, 1, 1], weightShape: [2, 1, 2], reduction: .mean)
      }
    }
  }

  /// Shapes must match, the gradient must be writable and must not share
  /// memory with any input; psnr's data range must be finite and > 0.
  @Test(arguments: Element.allCases)
  func test_pointwise_refuses_bad_arguments(_ element: Element) throws {
    try checkBadArguments(element.type)
  }

  func checkBadArguments<T: SimLossFloat>(_: T.Type) throws {
    var a = [T](repeating: 0.5, count: 64)
    var b = [T](repeating: 0.25, count: 64)
    var c = [T](repeating: 1, count: 64)
    try withBuffers(&a, &b, &c) { a, b, c in
      let pred = try TensorView(name: "pred", buffer: a, shape: [2, 3, 4])
      let target = try TensorView(name: "target", buffer: b, shape: [2, 3, 4])
      let other = try TensorView(name: "target", buffer: b, shape: [2, 4, 3])
      let grad = try TensorView(name: "grad", buffer: c, shape: [2, 3, 4])
      let weight = try TensorView(name: "weight", buffer: c, offset: 40, shape: [1, 3, 1])
      let losses: [(String, (TensorView<T>, TensorView<T>, TensorView<T>?, TensorView<T>?) throws -> LossValues)] = [
        ("l1", { try l1Loss(pred: $0, target: $1, weight: $2, gradient: $3) }),
        ("mse", { try mseLoss(pred: $0, target: $1, weight: $2, gradient: $3) }),
        ("absolute", { try pointwiseLoss(.absolute, pred: $0, target: $1, weight: $2, gradient: $3) }),
        ("psnr", { p, t, _, g in try psnr(pred: p, target: t, gradient: g) }),
      ]
      for (name, loss) in losses {
        expectError(.shapeMismatch, "target: shape (2, 4, 3) does not match pred shape (2, 3, 4)") {
          try loss(pred, other, nil, nil)
        }
        let small = try TensorView(name: "grad", buffer: c, shape: [2, 3, 3])
        expectError(.shapeMismatch, "grad: shape (2, 3, 3) does not match pred shape (2, 3, 4)") {
          try loss(pred, target, nil, small)
        }
        let broadcastGrad = try TensorView(name: "grad", buffer: c, shape: [1, 3, 4]).broadcast(to: [2, 3, 4])
        expectError(.overlap, "grad: strides (0, 4, 1) for shape (2, 3, 4) make elements share memory") {
          try loss(pred, target, nil, broadcastGrad)
        }
        let inPred = try TensorView(name: "grad", buffer: a, offset: 20, shape: [2, 3, 4])
        expectError(.overlap, "grad: output memory overlaps input pred") {
          try loss(pred, target, nil, inPred)
        }
        let inTarget = try TensorView(name: "grad", buffer: b, offset: 23, shape: [2, 3, 4], strides: [-12, -4, -1])
        expectError(.overlap, "grad: output memory overlaps input target") {
          try loss(pred, target, nil, inTarget)
        }
        if name != "psnr" {
          expectError(.overlap, "grad: output memory overlaps input weight") {
            try loss(pred, target, weight, try TensorView(name: "grad", buffer: c, offset: 20, shape: [2, 3, 4]))
          }
          // Disjoint parts of one buffer are fine.
          _ = try loss(pred, target, weight, grad)
        }
        _ = try loss(pred, target, nil, try TensorView(name: "grad", buffer: a, offset: 24, shape: [2, 3, 4]))
      }
      for range in [0, -1, Double.infinity, -Double.infinity, Double.nan] {
        expectError(.invalidArgument, "data_range: \(range) must be finite and > 0") {
          try psnr(pred: pred, target: target, dataRange: range)
        }
      }
    }
  }

  /// Weights that are each finite and >= 0 (so accepted by the doc
  /// comment) but whose sum overflows Double must give the weighted mean,
  /// or at least a documented error kind, never `.internal`.
  ///
  /// Finite weights whose sum overflows Double are refused with
  /// `.overflow` and a message that says what to do, never `.internal`.
  @Test func test_pointwise_weight_sum_past_double_max() throws {
    for loss in [PointwiseLossKind.l1, .mse] {
      do {
        _ = try evaluate(loss, shape: [1, 2], pred: [1, 2], target: [0, 0], weight: [1e308, 1e308], reduction: .mean)
        Issue.record("\(loss.testDescription): no error for weights summing past Double.greatestFiniteMagnitude")
      } catch let error as SimLossError {
        #expect(error.kind == .overflow, "\(loss.testDescription): \(error.message)")
        #expect(error.message.contains("weights sum past the largest double"))
      }
    }
  }

  // MARK: Gradients

  @Test(arguments: Reduction.allCases)
  func test_l1_gradient_matches_central_differences(_ reduction: Reduction) throws {
    try checkCentralDifferences(.l1, reduction, seed: 0x31)
  }

  @Test(arguments: Reduction.allCases)
  func test_mse_gradient_matches_central_differences(_ reduction: Reduction) throws {
    try checkCentralDifferences(.mse, reduction, seed: 0x32)
  }

  @Test(arguments: Reduction.allCases)
  func test_psnr_gradient_matches_central_differences(_ reduction: Reduction) throws {
    try checkCentralDifferences(.psnr(dataRange: 1), reduction, seed: 0x33)
  }

  /// Double only: float32 has too few digits for a central difference.
  func checkCentralDifferences(_ loss: PointwiseLossKind, _ reduction: Reduction, seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    let shape = [3, 2, 3, 4], count = 72
    let pred: [Double] = rng.separated(count)
    let target = separatedTargets(pred, &rng)
    let weightShape = [1, 2, 1, 4]
    let weight: [Double]? = loss.takesWeights ? rng.values(8, in: 0.5...2) : nil
    let got = try evaluate(
      loss, shape: shape, pred: pred, target: target, weight: weight, weightShape: weightShape, reduction: reduction)
    let numeric = try centralDifferences(pred, perSample: count / shape[0], h: 1e-6) { x in
      try evaluate(
        loss, shape: shape, pred: x, target: target, weight: weight, weightShape: weightShape, reduction: reduction,
        gradient: false
      ).values
    }
    expectClose(got.gradient, numeric, rtol: 1e-6, atol: 1e-8, "\(loss.testDescription) \(reduction.testDescription)")
  }

  // MARK: Properties

  @Test(arguments: Element.allCases)
  func test_l1_identical_inputs_give_zero(_ element: Element) throws {
    try checkIdentical(element.type, .l1, expected: 0)
  }

  @Test(arguments: Element.allCases)
  func test_mse_identical_inputs_give_zero(_ element: Element) throws {
    try checkIdentical(element.type, .mse, expected: 0)
  }

  /// psnr(x, x) = +infinity, with gradient 0.
  @Test(arguments: Element.allCases)
  func test_psnr_identical_inputs_give_infinity(_ element: Element) throws {
    try checkIdentical(element.type, .psnr(dataRange: 1), expected: .infinity)
  }

  func checkIdentical<T: SimLossFloat>(_: T.Type, _ loss: PointwiseLossKind, expected: Double) throws {
    var rng = SplitMix64(seed: 0x41)
    let shape = [2, 3, 11]
    let x: [T] = rng.values(66, in: -3...3)
    for reduction in Reduction.allCases {
      let got = try evaluate(loss, shape: shape, pred: x, target: x, reduction: reduction)
      #expect(got.values.allSatisfy { $0 == expected }, "\(reduction.testDescription): \(got.values)")
      #expect(got.gradient.allSatisfy { $0 == 0 })
    }
  }

  /// One identical sample among others: psnr +infinity and gradient 0 for
  /// it, finite values for the rest.
  @Test func test_psnr_identical_sample_gives_infinity() throws {
    var rng = SplitMix64(seed: 0x42)
    let shape = [3, 8]
    let pred: [Double] = rng.values(24)
    var target: [Double] = rng.values(24)
    for i in 8..<16 { target[i] = pred[i] }
    let got = try evaluate(.psnr(dataRange: 1), shape: shape, pred: pred, target: target, reduction: .none)
    let want = pointwiseReference(.psnr(dataRange: 1), shape: shape, pred: pred, target: target, weight: nil, reduction: .none)
    #expect(got.values[1] == .infinity)
    expectClose(got.values, want.values, rtol: 1e-13, "values")
    #expect(got.gradient[8..<16].allSatisfy { $0 == 0 })
    expectClose(got.gradient, want.gradient, rtol: 1e-13, "gradient")
  }

  @Test(arguments: Element.allCases)
  func test_l1_symmetric(_ element: Element) throws {
    try checkSymmetric(element.type, .l1)
  }

  @Test(arguments: Element.allCases)
  func test_mse_symmetric(_ element: Element) throws {
    try checkSymmetric(element.type, .mse)
  }

  @Test(arguments: Element.allCases)
  func test_psnr_symmetric(_ element: Element) throws {
    try checkSymmetric(element.type, .psnr(dataRange: 1))
  }

  /// loss(x, y) = loss(y, x) bit for bit (|d| = |-d|, d^2 = (-d)^2), and the
  /// gradient with respect to the first argument changes sign.
  func checkSymmetric<T: SimLossFloat>(_: T.Type, _ loss: PointwiseLossKind) throws {
    var rng = SplitMix64(seed: 0x43)
    let shape = [2, 3, 4, 5], count = 120
    let x: [T] = rng.values(count), y: [T] = rng.values(count)
    let weight: [T]? = loss.takesWeights ? rng.values(count, in: 0...2) : nil
    for reduction in Reduction.allCases {
      let xy = try evaluate(loss, shape: shape, pred: x, target: y, weight: weight, reduction: reduction)
      let yx = try evaluate(loss, shape: shape, pred: y, target: x, weight: weight, reduction: reduction)
      expectBitwiseEqual(xy.values, yx.values, "\(loss.testDescription) \(reduction.testDescription) value")
      expectBitwiseEqual(xy.gradient, yx.gradient.map { -$0 }, "\(loss.testDescription) gradient")
    }
  }

  /// l1(x + c, y + c) = l1(x, y) for a c that adds without rounding (the
  /// doc comment's third property); likewise mse and psnr.
  @Test(arguments: Element.allCases)
  func test_pointwise_translation_invariant(_ element: Element) throws {
    try checkTranslation(element.type)
  }

  func checkTranslation<T: SimLossFloat>(_: T.Type) throws {
    var rng = SplitMix64(seed: 0x44)
    let shape = [3, 5, 7], count = 105
    let x: [T] = rng.dyadic(count), y: [T] = rng.dyadic(count)
    for loss in [PointwiseLossKind.l1, .mse, .psnr(dataRange: 1)] {
      for reduction in Reduction.allCases {
        let plain = try evaluate(loss, shape: shape, pred: x, target: y, reduction: reduction)
        let shifted = try evaluate(
          loss, shape: shape, pred: x.map { $0 + 0.5 }, target: y.map { $0 + 0.5 }, reduction: reduction)
        expectBitwiseEqual(shifted.values, plain.values, "\(loss.testDescription) value")
        expectBitwiseEqual(shifted.gradient, plain.gradient, "\(loss.testDescription) gradient")
      }
    }
  }

  /// psnr(k x, k y, data range k L) = psnr(x, y, L).
  @Test(arguments: Element.allCases)
  func test_psnr_data_range_scaling(_ element: Element) throws {
    try checkDataRangeScaling(element.type)
  }

  func checkDataRangeScaling<T: SimLossFloat>(_: T.Type) throws {
    var rng = SplitMix64(seed: 0x45)
    let shape = [2, 3, 8], count = 48
    let x: [T] = rng.dyadic(count), y: [T] = rng.dyadic(count)
    for reduction in Reduction.allCases {
      let unit = try evaluate(.psnr(dataRange: 1), shape: shape, pred: x, target: y, reduction: reduction)
      // Scaling by 4 is exact; log10(16 mse) and log10(16) still round.
      let four = try evaluate(
        .psnr(dataRange: 4), shape: shape, pred: x.map { 4 * $0 }, target: y.map { 4 * $0 }, reduction: reduction)
      expectClose(four.values, unit.values, rtol: 1e-14, "x4")
      let bytes = try evaluate(
        .psnr(dataRange: 255), shape: shape, pred: x.map { 255 * $0 }, target: y.map { 255 * $0 }, reduction: reduction)
      expectClose(bytes.values, unit.values, rtol: 1e-14, "x255")
      // The gradient scales by 1/k.
      expectClose(bytes.gradient.map { 255 * $0.asDouble }, unit.gradient.map(\.asDouble), rtol: 4 * gradientTolerance(T.self), "x255 gradient")
    }
  }

  /// On an (N, C, H, W) batch, .mean is the mean over channels of each
  /// channel's loss, channels being strided views of the same buffers.
  @Test(arguments: Element.allCases)
  func test_l1_multichannel_is_mean_of_channels(_ element: Element) throws {
    try checkMultichannel(element.type, .absolute)
  }

  @Test(arguments: Element.allCases)
  func test_mse_multichannel_is_mean_of_channels(_ element: Element) throws {
    try checkMultichannel(element.type, .squared)
  }

  func checkMultichannel<T: SimLossFloat>(_: T.Type, _ function: PointwiseFunction) throws {
    var rng = SplitMix64(seed: 0x46)
    let (n, c, h, w) = (2, 3, 4, 5)
    var x: [T] = rng.values(n * c * h * w), y: [T] = rng.values(n * c * h * w)
    try withBuffers(&x, &y) { x, y in
      let whole = try pointwiseLoss(
        function, pred: try view("pred", x, [n, c, h, w]), target: try view("target", y, [n, c, h, w])
      ).values[0]
      var channels = 0.0
      for k in 0..<c {
        let layout = Layout(strides: [c * h * w, h * w, w, 1], offset: k * h * w, length: x.count)
        channels += try pointwiseLoss(
          function, pred: try view("pred", x, [n, 1, h, w], layout), target: try view("target", y, [n, 1, h, w], layout)
        ).values[0]
      }
      expectClose(whole, channels / Double(c), rtol: 1e-14, "\(function)")
    }
  }

  /// Float inputs give values and gradients close to those of the Double
  /// inputs they were rounded from.
  @Test func test_l1_float32_close_to_float64() throws { try checkFloat32Close(.l1) }
  @Test func test_mse_float32_close_to_float64() throws { try checkFloat32Close(.mse) }
  @Test func test_psnr_float32_close_to_float64() throws { try checkFloat32Close(.psnr(dataRange: 1)) }

  func checkFloat32Close(_ loss: PointwiseLossKind) throws {
    var rng = SplitMix64(seed: 0x47)
    let shape = [2, 3, 6, 7], count = 252
    let pred: [Double] = rng.values(count)
    let target = separatedTargets(pred, &rng)
    let weight: [Double]? = loss.takesWeights ? rng.values(count, in: 0...2) : nil
    for reduction in Reduction.allCases {
      let double = try evaluate(loss, shape: shape, pred: pred, target: target, weight: weight, reduction: reduction)
      let float = try evaluate(
        loss, shape: shape, pred: pred.map { Float($0) }, target: target.map { Float($0) },
        weight: weight.map { $0.map { Float($0) } }, reduction: reduction)
      let what = "\(loss.testDescription) \(reduction.testDescription)"
      expectClose(float.values, double.values, rtol: 1e-6, "\(what) value")
      let largest = double.gradient.map(abs).max()!
      expectClose(float.gradient.map(\.asDouble), double.gradient, rtol: 1e-5, atol: 1e-6 * largest, "\(what) gradient")
    }
  }

  /// Dense, permuted, reversed and gapped views of one logical batch (rank
  /// 1, 2, 4 and 5) give the same values and gradients bit for bit, and
  /// write no gap.
  @Test(arguments: Element.allCases)
  func test_pointwise_layouts_bitwise_equal(_ element: Element) throws {
    try checkLayouts(element.type)
  }

  func checkLayouts<T: SimLossFloat>(_: T.Type) throws {
    var rng = SplitMix64(seed: 0x48)
    let image = [2, 3, 5, 11], rows = [4, 9], vector = [13], deep = [2, 2, 3, 2, 5]
    let cases: [(shape: [Int], weightShape: [Int], layouts: [(String, Layout)])] = [
      (image, [1, 3, 1, 1], [
        ("NHWC", .permuted(image, order: [0, 2, 3, 1])),
        ("CWHN", .permuted(image, order: [1, 3, 2, 0])),
        ("reversed", .reversed(image)),
        ("gapped rows", .gapped(image, dimension: 2, step: 2, offset: 3)),
        ("gapped columns", .gapped(image, dimension: 3, step: 3, offset: 1)),
      ]),
      (rows, [1, 9], [
        ("transposed", .permuted(rows, order: [1, 0])),
        ("reversed", .reversed(rows)),
        ("gapped", .gapped(rows, dimension: 1, step: 2, offset: 1)),
      ]),
      (vector, [1], [
        ("reversed", .reversed(vector)),
        ("gapped", .gapped(vector, dimension: 0, step: 3, offset: 2)),
      ]),
      (deep, [2, 1, 3, 1, 1], [
        ("permuted", .permuted(deep, order: [4, 2, 0, 3, 1])),
        ("reversed", .reversed(deep)),
        ("gapped", .gapped(deep, dimension: 3, step: 2, offset: 0)),
      ]),
    ]
    for (shape, weightShape, layouts) in cases {
      let count = shape.reduce(1, *)
      let pred: [T] = rng.values(count), target: [T] = rng.values(count)
      let weight: [T] = rng.values(weightShape.reduce(1, *), in: 0...2)
      for loss in [PointwiseLossKind.l1, .mse, .psnr(dataRange: 1)] {
        for reduction in Reduction.allCases {
          let w: [T]? = loss.takesWeights ? weight : nil
          let dense = try evaluate(
            loss, shape: shape, pred: pred, target: target, weight: w, weightShape: weightShape, reduction: reduction)
          for (name, layout) in layouts {
            let other = try evaluate(
              loss, shape: shape, pred: pred, target: target, weight: w, weightShape: weightShape,
              reduction: reduction, layout: layout)
            let what = "\(loss.testDescription) \(reduction.testDescription) \(shape) \(name)"
            expectBitwiseEqual(other.values, dense.values, "\(what) value")
            expectBitwiseEqual(other.gradient, dense.gradient, "\(what) gradient")
          }
        }
      }
    }
  }

  /// A broadcast view of 2^36 samples (of two elements: one element per
  /// sample is summed as one sample) needs 512 GiB of per-sample sums:
  /// a thrown `.outOfMemory`, not the trap of a Swift array.
  @Test func test_view_larger_than_memory_throws() throws {
    var one: [Float] = [0.5]
    try one.withUnsafeMutableBufferPointer { b in
      let big = try TensorView(name: "pred", buffer: b, shape: [1 << 36, 2], strides: [0, 0])
      expectError(.outOfMemory, "pred: one sum per sample: cannot allocate 68719476736 values of 8 bytes") {
        _ = try l1Loss(pred: big, target: big)
      }
      expectError(.outOfMemory, "x: one sum per sample") {
        _ = try totalVariation(
          try TensorView(name: "x", buffer: b, shape: [1 << 36, 1, 1, 1], strides: [0, 0, 0, 0]))
      }
    }
  }

  /// l1Loss and mseLoss are pointwiseLoss with .absolute and .squared.
  @Test(arguments: Element.allCases)
  func test_pointwise_function_matches_named_losses(_ element: Element) throws {
    try checkNamedLosses(element.type)
  }

  func checkNamedLosses<T: SimLossFloat>(_: T.Type) throws {
    var rng = SplitMix64(seed: 0x49)
    var x: [T] = rng.values(40), y: [T] = rng.values(40)
    try withBuffers(&x, &y) { x, y in
      let p = try view("pred", x, [4, 10]), t = try view("target", y, [4, 10])
      for reduction in Reduction.allCases {
        expectBitwiseEqual(
          try l1Loss(pred: p, target: t, reduction: reduction).values,
          try pointwiseLoss(.absolute, pred: p, target: t, reduction: reduction).values)
        expectBitwiseEqual(
          try mseLoss(pred: p, target: t, reduction: reduction).values,
          try pointwiseLoss(.squared, pred: p, target: t, reduction: reduction).values)
      }
    }
  }
}
