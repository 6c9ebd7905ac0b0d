import SimLossCore

// Inputs, views and finite differences shared by the SSIM tests.

/// How y is made from x and a second uniform image v.
enum PairKind: Sendable {
  /// y = a x + b v.
  case mixed(Double, Double)
  /// y = 1 - x (negative correlation: cs < 0).
  case inverted
}

/// splitmix64, the generator of generate_reference.py: value = (z >> 11) 2^-53.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> Double {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return Double(z >> 11) * 0x1p-53
  }
}

/// An (x, y) pair of NCHW images, made exactly as generate_reference.py makes it.
struct TestPair: Sendable {
  let shape: [Int]
  let seed: UInt64
  let kind: PairKind
  let scale: Double

  var count: Int { shape.reduce(1, *) }

  func make() -> (x: [Double], y: [Double]) {
    var g = SplitMix64(seed: seed)
    let u = (0..<(2 * count)).map { _ in g.next() }
    var x = Array(u[0..<count]), y = [Double](repeating: 0, count: count)
    let v = Array(u[count...])
    for i in 0..<count {
      switch kind {
      case .mixed(let a, let b): y[i] = a * x[i] + b * v[i]
      case .inverted: y[i] = 1.0 - x[i]
      }
    }
    for i in 0..<count {
      x[i] = x[i] * scale
      y[i] = y[i] * scale
    }
    return (x, y)
  }
}

/// Converts Double test data to the element type under test.
func converted<T: SimLossFloat>(_ values: [Double], to _: T.Type) -> [T] { values.map { T($0) } }

/// What one SSIM call gave.
struct SSIMRun<T: SimLossFloat> {
  var result: SSIMResult
  var gradient: [T]
  var map: [T]
}

/// ssim on dense NCHW arrays; a gradient and a map are asked for when
/// `gradient` / `mapShape` say so.
func runSSIM<T: SimLossFloat>(
  _ x: [T], _ y: [T], shape: [Int], options: SSIMOptions = .init(), reduction: Reduction = .mean,
  gradient: Bool = false, mapShape: [Int]? = nil
) throws -> SSIMRun<T> {
  var x = x, y = y
  var g = [T](repeating: 0, count: gradient ? x.count : 1)
  var m = [T](repeating: 0, count: mapShape.map { $0.reduce(1, *) } ?? 1)
  let result = try x.withUnsafeMutableBufferPointer { xb in
    try y.withUnsafeMutableBufferPointer { yb in
      try g.withUnsafeMutableBufferPointer { gb in
        try m.withUnsafeMutableBufferPointer { mb in
          let xv = try TensorView(name: "x", buffer: xb, shape: shape)
          let yv = try TensorView(name: "y", buffer: yb, shape: shape)
          let gv = gradient ? try TensorView(name: "gradient", buffer: gb, shape: shape) : nil
          let mv = try mapShape.map { try TensorView(name: "map", buffer: mb, shape: $0) }
          return try ssim(xv, yv, options: options, reduction: reduction, gradient: gv, map: mv)
        }
      }
    }
  }
  return SSIMRun(result: result, gradient: gradient ? g : [], map: mapShape == nil ? [] : m)
}

/// msSSIM on dense NCHW arrays.
func runMSSSIM<T: SimLossFloat>(
  _ x: [T], _ y: [T], shape: [Int], options: MSSSIMOptions = .init(), reduction: Reduction = .mean,
  gradient: Bool = false
) throws -> (values: [Double], gradient: [T]) {
  var x = x, y = y
  var g = [T](repeating: 0, count: gradient ? x.count : 1)
  let values = try x.withUnsafeMutableBufferPointer { xb in
    try y.withUnsafeMutableBufferPointer { yb in
      try g.withUnsafeMutableBufferPointer { gb in
        let xv = try TensorView(name: "x", buffer: xb, shape: shape)
        let yv = try TensorView(name: "y", buffer: yb, shape: shape)
        let gv = gradient ? try TensorView(name: "gradient", buffer: gb, shape: shape) : nil
        return try msSSIM(xv, yv, options: options, reduction: reduction, gradient: gv).values
      }
    }
  }
  return (values, gradient ? g : [])
}

/// The largest |a[i] - b[i]|.
func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
  precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// Central difference (f(x + h e_i) - f(x - h e_i)) / 2h at each index.
func centralDifferences(_ x: [Double], at indices: [Int], h: Double = 1e-6, _ f: ([Double]) throws -> Double)
  rethrows -> [Double]
{
  var probe = x
  return try indices.map { i in
    probe[i] = x[i] + h
    let plus = try f(probe)
    probe[i] = x[i] - h
    let minus = try f(probe)
    probe[i] = x[i]
    return (plus - minus) / (2 * h)
  }
}

/// Checks analytic against numerical derivatives: |a - n| <= 1e-6 max|n| + 1e-10.
/// Returns the largest error relative to max|n|.
func gradientError(_ analytic: [Double], _ numeric: [Double]) -> (relative: Double, ok: Bool) {
  let scale = numeric.map(abs).max() ?? 0
  let worst = maxAbsDifference(analytic, numeric)
  return (worst / max(scale, 1e-300), worst <= 1e-6 * scale + 1e-10)
}

/// NCHW index of (n, c, h, w).
func index(_ shape: [Int], _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Int {
  ((n * shape[1] + c) * shape[2] + h) * shape[3] + w
}
