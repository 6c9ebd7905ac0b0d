// Threads (Support/Threads.swift): the setting itself, and its promise that
// the thread count changes the speed of a call and never its result. The
// batches are large enough for several blocks per image (BlockPlan cuts
// about 16384 elements per block) or several images per block.
//
// The suite is serialized: its tests change the process-wide count, and
// each puts back the default (`Threads.set(0)`) when it ends. Tests of other
// suites that run meanwhile are unaffected, which is the property tested.
import SimLossCore
import Testing

@Suite(.serialized) struct ThreadsTests {
  /// 3 images of 3 x 160 x 80: 38400 elements each, three blocks per image
  /// (204, 204 and 72 rows of 80), so that the order in which an image's
  /// partial sums are added matters.
  static let batch = [3, 3, 160, 80]
  /// 5000 images of 2 x 4: three blocks of up to 2048 images.
  static let smallImages = [5000, 2, 4]
  static let counts = [1, 2, 4]

  @Test func test_threads_set_and_count() throws {
    defer { try? Threads.set(0) }
    #expect(Threads.defaultCount >= 1)
    #expect(Threads.maximum == 1024)
    try Threads.set(2)
    #expect(Threads.count == 2)
    try Threads.set(1)
    #expect(Threads.count == 1)
    try Threads.set(Threads.maximum)
    #expect(Threads.count == 1024)
    try Threads.set(0)
    #expect(Threads.count == Threads.defaultCount)
    try Threads.set(3)
    expectError(.invalidArgument, "num_threads: -1 is outside 0...1024") { try Threads.set(-1) }
    expectError(.invalidArgument, "num_threads: 1025 is outside 0...1024") { try Threads.set(1025) }
    // A refused value leaves the setting as it was.
    #expect(Threads.count == 3)
  }

  /// Runs `run` for each reduction under 1, 2 and 4 threads and expects
  /// every result bitwise equal to the one of 1 thread; returns that one.
  @discardableResult
  func checkThreads<T: SimLossFloat>(
    _: T.Type, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ run: (Reduction) throws -> (values: [Double], gradient: [T])
  ) throws -> [Reduction: (values: [Double], gradient: [T])] {
    defer { try? Threads.set(0) }
    var baseline: [Reduction: (values: [Double], gradient: [T])] = [:]
    for threads in Self.counts {
      try Threads.set(threads)
      for reduction in Reduction.allCases {
        let result = try run(reduction)
        if let first = baseline[reduction] {
          let label = "\(what) \(T.self) \(reduction.testDescription), \(threads) threads"
          expectBitwiseEqual(result.values, first.values, "\(label) value", sourceLocation: sourceLocation)
          expectBitwiseEqual(result.gradient, first.gradient, "\(label) gradient", sourceLocation: sourceLocation)
        } else {
          baseline[reduction] = result
        }
      }
    }
    return baseline
  }

  @Test(arguments: Element.allCases)
  func test_l1_threads_bitwise_equal(_ element: Element) throws {
    try checkPointwise(element.type, .l1, seed: 0x61)
  }

  @Test(arguments: Element.allCases)
  func test_mse_threads_bitwise_equal(_ element: Element) throws {
    try checkPointwise(element.type, .mse, seed: 0x62)
  }

  @Test(arguments: Element.allCases)
  func test_psnr_threads_bitwise_equal(_ element: Element) throws {
    try checkPointwise(element.type, .psnr(dataRange: 1), seed: 0x63)
  }

  /// Both block plans (images split, images grouped), with weights where
  /// the loss takes them; the 1-thread results also match the formula.
  func checkPointwise<T: SimLossFloat>(_: T.Type, _ loss: PointwiseLossKind, seed: UInt64) throws {
    var rng = SplitMix64(seed: seed)
    for shape in [Self.batch, Self.smallImages] {
      let count = shape.reduce(1, *)
      let pred: [T] = rng.values(count), target: [T] = rng.values(count)
      var weightShape = shape.map { _ in 1 }
      weightShape[1] = shape[1]
      weightShape[shape.count - 1] = shape[shape.count - 1]
      let weight: [T]? = loss.takesWeights ? rng.values(weightShape.reduce(1, *), in: 0...2) : nil
      let results = try checkThreads(T.self, "\(loss.testDescription) \(shape)") { reduction in
        try evaluate(
          loss, shape: shape, pred: pred, target: target, weight: weight, weightShape: weightShape,
          reduction: reduction)
      }
      for (reduction, got) in results {
        let want = pointwiseReference(
          loss, shape: shape, pred: pred.map(\.asDouble), target: target.map(\.asDouble),
          weight: weight.map { broadcast($0.map(\.asDouble), from: weightShape, to: shape) }, reduction: reduction)
        let what = "\(loss.testDescription) \(T.self) \(shape) \(reduction.testDescription)"
        expectClose(got.values, want.values, rtol: 1e-12, "\(what) value")
        expectClose(got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), "\(what) gradient")
      }
    }
  }

  @Test(arguments: Element.allCases, tvKinds)
  func test_tv_threads_bitwise_equal(_ element: Element, _ kind: TotalVariationKind) throws {
    try checkTV(element.type, kind)
  }

  func checkTV<T: SimLossFloat>(_: T.Type, _ kind: TotalVariationKind) throws {
    var rng = SplitMix64(seed: 0x64)
    // 5000 images of 1 x 2 x 4 (grouped) after the split batch.
    for shape in [Self.batch, [5000, 1, 2, 4]] {
      let x: [T] = rng.values(shape.reduce(1, *))
      let results = try checkThreads(T.self, "\(kind.testDescription) \(shape)") { reduction in
        try evaluateTV(x, shape: shape, kind: kind, reduction: reduction)
      }
      let rtol = kind == .anisotropic && T.self == Float.self ? 2e-7 : 1e-12
      for (reduction, got) in results {
        let want = tvReference(x.map(\.asDouble), shape: shape, kind: kind, reduction: reduction)
        let what = "\(kind.testDescription) \(T.self) \(shape) \(reduction.testDescription)"
        expectClose(got.values, want.values, rtol: rtol, "\(what) value")
        let largest = want.gradient.map(abs).max()!
        expectClose(
          got.gradient.map(\.asDouble), want.gradient, rtol: gradientTolerance(T.self), atol: 1e-13 * largest,
          "\(what) gradient")
      }
    }
  }
}
