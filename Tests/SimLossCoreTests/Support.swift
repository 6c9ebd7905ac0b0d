// What every test file of the core's suite shares: a seeded generator, the
// element types as test arguments, buffers and layouts, float64 reference
// helpers, and assertions on values and errors.
//
// Conventions (style.md S18, S20): a check is written once as a function
// generic over `T: SimLossFloat` and run for Float and Double through
// `Element`; every random input comes from a `SplitMix64` seeded in the test
// itself; references are float64 formulas written in the tests, never the
// library's own kernels.
import SimLossCore
import Testing

// MARK: - Random inputs

/// SplitMix64 (Steele, Lea and Flood 2014): small, fast and fully determined
/// by its seed, so a test's inputs are the same on every machine and run.
struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1), with 53 random bits.
  mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Uniform in `range`.
  mutating func uniform(_ range: ClosedRange<Double>) -> Double {
    range.lowerBound + (range.upperBound - range.lowerBound) * unit()
  }

  /// `count` values uniform in `range`, rounded to T.
  mutating func values<T: SimLossFloat>(_ count: Int, in range: ClosedRange<Double> = 0...1) -> [T] {
    (0..<count).map { _ in T(uniform(range)) }
  }

  /// `count` multiples of 2^-12 in [0, 1): sums and differences of a few of
  /// them, and adding 0.5, are exact in Float and Double.
  mutating func dyadic<T: SimLossFloat>(_ count: Int) -> [T] {
    (0..<count).map { _ in T(Double(next() >> 52) * 0x1p-12) }
  }

  /// 0, 1/count, ..., (count - 1)/count in a shuffled order: any two values
  /// differ by at least 1/count, so central differences with a small step
  /// never cross a kink of |.|.
  mutating func separated<T: SimLossFloat>(_ count: Int) -> [T] {
    var values = (0..<count).map { T(Double($0) / Double(count)) }
    values.shuffle(using: &self)
    return values
  }
}

// MARK: - Element types

/// The element types simloss computes on, as test arguments.
enum Element: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case float32
  case float64

  var type: any SimLossFloat.Type {
    switch self {
    case .float32: Float.self
    case .float64: Double.self
    }
  }

  var testDescription: String { rawValue }
}

// MARK: - Buffers

/// Runs `body` with mutable buffers over the storage of one to four arrays.
/// Views made inside `body` are valid there only.
func withBuffers<T, R>(
  _ a: inout [T], _ body: (UnsafeMutableBufferPointer<T>) throws -> R
) rethrows -> R {
  try a.withUnsafeMutableBufferPointer { try body($0) }
}

func withBuffers<T, R>(
  _ a: inout [T], _ b: inout [T],
  _ body: (UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>) throws -> R
) rethrows -> R {
  try a.withUnsafeMutableBufferPointer { a in
    try b.withUnsafeMutableBufferPointer { b in try body(a, b) }
  }
}

func withBuffers<T, R>(
  _ a: inout [T], _ b: inout [T], _ c: inout [T],
  _ body: (UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>) throws -> R
) rethrows -> R {
  try a.withUnsafeMutableBufferPointer { a in
    try b.withUnsafeMutableBufferPointer { b in
      try c.withUnsafeMutableBufferPointer { c in try body(a, b, c) }
    }
  }
}

func withBuffers<T, R>(
  _ a: inout [T], _ b: inout [T], _ c: inout [T], _ d: inout [T],
  _ body: (
    UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>,
    UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>
  ) throws -> R
) rethrows -> R {
  try a.withUnsafeMutableBufferPointer { a in
    try b.withUnsafeMutableBufferPointer { b in
      try c.withUnsafeMutableBufferPointer { c in
        try d.withUnsafeMutableBufferPointer { d in try body(a, b, c, d) }
      }
    }
  }
}

// MARK: - Layouts

/// Calls `body(index, position)` for every index tuple of `shape` in
/// row-major order; `position` counts from 0.
func forEachIndex(_ shape: [Int], _ body: ([Int], Int) -> Void) {
  let count = shape.reduce(1, *)
  var index = [Int](repeating: 0, count: shape.count)
  for position in 0..<count {
    body(index, position)
    var d = shape.count - 1
    while d >= 0 {
      index[d] += 1
      if index[d] < shape[d] { break }
      index[d] = 0
      d -= 1
    }
  }
}

func denseStrides(_ shape: [Int]) -> [Int] {
  var strides = [Int](repeating: 1, count: shape.count)
  var step = 1
  for d in shape.indices.reversed() {
    strides[d] = step
    step *= shape[d]
  }
  return strides
}

/// A memory layout of a logical tensor: `strides` and `offset` into a
/// buffer of `length` elements.
struct Layout {
  var strides: [Int]
  var offset: Int
  var length: Int

  static func dense(_ shape: [Int]) -> Layout {
    Layout(strides: denseStrides(shape), offset: 0, length: shape.reduce(1, *))
  }

  /// Dense in the dimension order `order` (outermost first): e.g. NHWC of an
  /// NCHW shape is `[0, 2, 3, 1]`.
  static func permuted(_ shape: [Int], order: [Int]) -> Layout {
    var strides = [Int](repeating: 0, count: shape.count)
    var step = 1
    for d in order.reversed() {
      strides[d] = step
      step *= shape[d]
    }
    return Layout(strides: strides, offset: 0, length: step)
  }

  /// Every dimension stepped backwards through memory: the last logical
  /// element is the first in the buffer.
  static func reversed(_ shape: [Int]) -> Layout {
    let count = shape.reduce(1, *)
    return Layout(strides: denseStrides(shape).map { -$0 }, offset: count - 1, length: count)
  }

  /// Dense, but dimension `dimension` takes every `step`-th slot of a larger
  /// buffer and the whole view starts at `offset`: a strided view whose gaps
  /// must never be read or written.
  static func gapped(_ shape: [Int], dimension: Int, step: Int, offset: Int) -> Layout {
    var padded = shape
    padded[dimension] = shape[dimension] * step
    var strides = denseStrides(padded)
    strides[dimension] *= step
    return Layout(strides: strides, offset: offset, length: offset + padded.reduce(1, *))
  }

  /// Dense row-major from offset 0 with no gaps: logical order is memory
  /// order.
  func isDense(_ shape: [Int]) -> Bool {
    offset == 0 && length == shape.reduce(1, *) && strides == denseStrides(shape)
  }

  func position(_ index: [Int]) -> Int {
    var p = offset
    for d in index.indices { p += index[d] * strides[d] }
    return p
  }

  /// Expects every slot of `buffer` that this layout does not reach to
  /// still hold `untouched`.
  func expectGapsUntouched<T: Equatable>(
    _ buffer: [T], shape: [Int], untouched: T, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    if isDense(shape) { return }
    var reached = [Bool](repeating: false, count: length)
    forEachIndex(shape) { index, _ in reached[position(index)] = true }
    let gaps = buffer.indices.filter { !reached[$0] && buffer[$0] != untouched }
    #expect(gaps.isEmpty, "gradient written outside the view at \(gaps.prefix(5))", sourceLocation: sourceLocation)
  }

  /// The logical row-major `values` written into a buffer of this layout;
  /// every other slot holds `fill`.
  func scatter<T>(_ values: [T], shape: [Int], fill: T) -> [T] {
    if isDense(shape) { return values }
    var buffer = [T](repeating: fill, count: length)
    forEachIndex(shape) { index, i in buffer[position(index)] = values[i] }
    return buffer
  }

  /// The logical row-major values of a buffer of this layout.
  func gather<T>(_ buffer: [T], shape: [Int]) -> [T] {
    if isDense(shape) { return buffer }
    var values: [T] = []
    values.reserveCapacity(shape.reduce(1, *))
    forEachIndex(shape) { index, _ in values.append(buffer[position(index)]) }
    return values
  }
}

func view<T: SimLossFloat>(
  _ name: String, _ buffer: UnsafeMutableBufferPointer<T>, _ shape: [Int], _ layout: Layout? = nil
) throws -> TensorView<T> {
  let layout = layout ?? .dense(shape)
  return try TensorView(name: name, buffer: buffer, offset: layout.offset, shape: shape, strides: layout.strides)
}

// MARK: - References

/// `values` (of shape `from`, equal rank) broadcast to `to` by numpy's
/// rules, row-major.
func broadcast(_ values: [Double], from: [Int], to: [Int]) -> [Double] {
  let strides = denseStrides(from)
  var out: [Double] = []
  forEachIndex(to) { index, _ in
    var p = 0
    for d in index.indices where from[d] != 1 { p += index[d] * strides[d] }
    out.append(values[p])
  }
  return out
}

/// Central differences of `f` at `x`: entry i is
/// (f(x + h e_i)[k] - f(x - h e_i)[k]) / 2h, where k is 0 for a scalar `f`
/// and the sample of element i (i / perSample) for one value per sample.
func centralDifferences(
  _ x: [Double], perSample: Int, h: Double, _ f: ([Double]) throws -> [Double]
) rethrows -> [Double] {
  var numeric = [Double](repeating: 0, count: x.count)
  var probe = x
  for i in x.indices {
    probe[i] = x[i] + h
    let plus = try f(probe)
    probe[i] = x[i] - h
    let minus = try f(probe)
    probe[i] = x[i]
    let k = plus.count == 1 ? 0 : i / perSample
    numeric[i] = (plus[k] - minus[k]) / (2 * h)
  }
  return numeric
}

func sign(_ d: Double) -> Double { d > 0 ? 1 : (d < 0 ? -1 : 0) }

extension Reduction: CaseIterable {
  public static var allCases: [Reduction] { [.mean, .sum, .none] }
}

extension Reduction: CustomTestStringConvertible {
  public var testDescription: String {
    switch self {
    case .mean: "mean"
    case .sum: "sum"
    case .none: "none"
    }
  }
}

// MARK: - Assertions

/// Expects |got_i - expected_i| <= atol + rtol |expected_i| for every i
/// (equal infinities pass); records one issue naming the worst element.
func expectClose(
  _ got: [Double], _ expected: [Double], rtol: Double, atol: Double = 0,
  _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
  guard got.count == expected.count else {
    Issue.record("\(what): \(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    return
  }
  var worst: (index: Int, excess: Double)? = nil
  for i in got.indices {
    let (a, b) = (got[i], expected[i])
    if a == b { continue }
    let excess = abs(a - b) / (atol + rtol * abs(b))
    if !(excess <= 1), worst == nil || !(excess <= worst!.excess) { worst = (i, excess) }
  }
  if let (i, _) = worst {
    let difference = got[i] - expected[i]
    Issue.record(
      "\(what): element \(i) is \(got[i]), expected \(expected[i]) (difference \(difference), rtol \(rtol), atol \(atol))",
      sourceLocation: sourceLocation)
  }
}

func expectClose(
  _ got: Double, _ expected: Double, rtol: Double, atol: Double = 0,
  _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
  expectClose([got], [expected], rtol: rtol, atol: atol, what, sourceLocation: sourceLocation)
}

/// Expects bitwise equality (so NaNs and signed zeros count), naming the
/// first element that differs.
func expectBitwiseEqual<T: BinaryFloatingPoint>(
  _ got: [T], _ expected: [T], _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
  guard got.count == expected.count else {
    Issue.record("\(what): \(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    return
  }
  if let i = got.indices.first(where: {
    got[$0].sign != expected[$0].sign || got[$0].exponentBitPattern != expected[$0].exponentBitPattern
      || got[$0].significandBitPattern != expected[$0].significandBitPattern
  }) {
    Issue.record("\(what): element \(i) is \(got[i]), expected \(expected[i]) bit for bit", sourceLocation: sourceLocation)
  }
}

/// Expects `body` to throw a `SimLossError` of `kind` whose message
/// contains every fragment; returns the error.
@discardableResult
func expectError<R>(
  _ kind: SimLossError.Kind, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> R
) -> SimLossError? {
  do {
    let result = try body()
    Issue.record("expected a \(kind) error, got \(result)", sourceLocation: sourceLocation)
    return nil
  } catch let error as SimLossError {
    #expect(error.kind == kind, "message: \(error.message)", sourceLocation: sourceLocation)
    for fragment in fragments {
      #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    }
    #expect(error.description == error.message, sourceLocation: sourceLocation)
    return error
  } catch {
    Issue.record("expected a SimLossError, got \(error)", sourceLocation: sourceLocation)
    return nil
  }
}
