import SimLossCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The gradient ssim() and msSSIM() return is the derivative of the value
// they return: checked against central differences in Double for every
// option (borders, windows, sample covariance, luma, MATLAB downsampling,
// reductions, MS-SSIM levels and relu). Small images are checked at every
// pixel, large ones at spot pixels (corners, edges, interior).

/// Corners, edge midpoints, pixels next to the edges and a few interior
/// pixels of every channel of the first and last image (the first `limit`
/// of them per channel).
func spotIndices(_ shape: [Int], limit: Int = 10) -> [Int] {
  let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
  var out = [Int]()
  for image in Set([0, n - 1]).sorted() {
    for channel in 0..<c {
      for (i, j) in [(0, 0), (h - 1, w - 1), (h / 2, w / 2), (1, w / 2), (0, w - 1), (h - 1, 0), (h / 2, 1),
        (h - 2, w - 2), (h / 3, 2 * w / 3), (5, 7)].prefix(limit)
      {
        out.append(index(shape, image, channel, i, j))
      }
    }
  }
  return out
}

func checkSSIMGradient(
  _ pair: TestPair, _ options: SSIMOptions, reduction: Reduction = .mean, spots: Bool = false, h: Double = 1e-6
) throws {
  let (x, y) = pair.make()
  let run = try runSSIM(x, y, shape: pair.shape, options: options, reduction: reduction, gradient: true)
  let indices = spots ? spotIndices(pair.shape, limit: pair.shape[1] > 1 ? 4 : 10) : Array(0..<x.count)
  let numeric = try centralDifferences(x, at: indices, h: h) { probe in
    try runSSIM(probe, y, shape: pair.shape, options: options, reduction: reduction).result.values.reduce(0, +)
  }
  let (relative, ok) = gradientError(indices.map { run.gradient[$0] }, numeric)
  #expect(ok, "largest error relative to max |gradient|: \(relative)")
  print("gradient check \(pair.shape): largest error / max |gradient| = \(relative)")
  #expect(run.gradient.allSatisfy { $0.isFinite })
}

func checkMSSSIMGradient(
  _ pair: TestPair, _ options: MSSSIMOptions, reduction: Reduction = .mean, spots: Bool = false, h: Double = 1e-6
) throws {
  let (x, y) = pair.make()
  let run = try runMSSSIM(x, y, shape: pair.shape, options: options, reduction: reduction, gradient: true)
  let indices = spots ? spotIndices(pair.shape) : Array(0..<x.count)
  let numeric = try centralDifferences(x, at: indices, h: h) { probe in
    try runMSSSIM(probe, y, shape: pair.shape, options: options, reduction: reduction).values.reduce(0, +)
  }
  let (relative, ok) = gradientError(indices.map { run.gradient[$0] }, numeric)
  #expect(ok, "largest error relative to max |gradient|: \(relative)")
  print("gradient check \(pair.shape): largest error / max |gradient| = \(relative)")
  #expect(run.gradient.allSatisfy { $0.isFinite })
}

struct GradientCase: Sendable, CustomStringConvertible {
  let name: String
  let pair: TestPair
  let options: SSIMOptions
  var reduction: Reduction = .mean
  var spots = false
  var description: String { name }
}

let small = TestPair(shape: [1, 2, 16, 18], seed: 101, kind: .mixed(0.7, 0.3), scale: 1)
let smallRGB = TestPair(shape: [1, 3, 16, 18], seed: 102, kind: .mixed(0.6, 0.4), scale: 1)
let smallBatch = TestPair(shape: [2, 1, 12, 13], seed: 103, kind: .mixed(0.5, 0.5), scale: 1)

let ssimGradientCases: [GradientCase] = [
  GradientCase(name: "valid, Gaussian 7", pair: small, options: .init(windowSize: 7)),
  GradientCase(name: "reflect", pair: small, options: .init(windowSize: 7, border: .reflect)),
  GradientCase(name: "zero", pair: small, options: .init(windowSize: 7, border: .zero)),
  GradientCase(name: "reflect, window 11 > side / 2", pair: small, options: .init(border: .reflect)),
  GradientCase(
    name: "uniform 5, sample covariance", pair: small,
    options: .init(windowSize: 5, gaussian: false, sampleCovariance: true)),
  GradientCase(
    name: "Gaussian sample covariance, zero border", pair: small,
    options: .init(windowSize: 7, sigma: 2, border: .zero, sampleCovariance: true)),
  GradientCase(name: "small constants", pair: small, options: .init(windowSize: 7, k1: 1e-3, k2: 1e-3)),
  GradientCase(name: "luma", pair: smallRGB, options: .init(windowSize: 7, luma: true)),
  GradientCase(
    name: "luma, reflect, range 255",
    pair: TestPair(shape: [1, 3, 16, 18], seed: 104, kind: .mixed(0.6, 0.4), scale: 255),
    options: .init(dataRange: 255, windowSize: 7, border: .reflect, luma: true)),
  GradientCase(name: "batch, mean", pair: smallBatch, options: .init(windowSize: 5), reduction: .mean),
  GradientCase(name: "batch, sum", pair: smallBatch, options: .init(windowSize: 5), reduction: .sum),
  GradientCase(name: "batch, none", pair: smallBatch, options: .init(windowSize: 5, border: .zero), reduction: .none),
  GradientCase(
    name: "MATLAB downsample f = 2",
    pair: TestPair(shape: [1, 1, 384, 390], seed: 105, kind: .mixed(0.7, 0.3), scale: 1),
    options: .init(matlabDownsample: true), spots: true),
  GradientCase(
    name: "MATLAB downsample f = 2, odd sides, reflect",
    pair: TestPair(shape: [1, 1, 385, 391], seed: 106, kind: .mixed(0.7, 0.3), scale: 1),
    options: .init(windowSize: 7, border: .reflect, matlabDownsample: true), spots: true),
  GradientCase(
    name: "MATLAB downsample f = 3, luma, zero",
    pair: TestPair(shape: [1, 3, 640, 641], seed: 107, kind: .mixed(0.7, 0.3), scale: 1),
    options: .init(windowSize: 7, border: .zero, matlabDownsample: true, luma: true), spots: true),
  GradientCase(
    name: "several bands",
    pair: TestPair(shape: [1, 1, 400, 380], seed: 108, kind: .mixed(0.7, 0.3), scale: 1),
    options: .init(border: .reflect), spots: true),
]

@Suite("SSIM gradients against central differences")
struct SSIMGradientTests {
  @Test("ssim gradient matches central differences", arguments: ssimGradientCases)
  func ssimGradient(_ c: GradientCase) throws {
    try checkSSIMGradient(c.pair, c.options, reduction: c.reduction, spots: c.spots, h: (c.spots ? 1e-4 : 1e-6) * c.pair.scale)
  }

  @Test("msSSIM gradient matches central differences, 3 levels, every pixel")
  func msSSIMSmall() throws {
    let pair = TestPair(shape: [1, 2, 20, 23], seed: 111, kind: .mixed(0.7, 0.3), scale: 1)
    try checkMSSSIMGradient(pair, .init(ssim: .init(windowSize: 3), weights: [0.3, 0.3, 0.4]))
  }

  @Test("msSSIM gradient, uniform window, sample covariance, luma, batch .none")
  func msSSIMOptions() throws {
    let pair = TestPair(shape: [2, 3, 19, 22], seed: 112, kind: .mixed(0.6, 0.4), scale: 1)
    try checkMSSSIMGradient(
      pair,
      .init(
        ssim: .init(windowSize: 3, gaussian: false, sampleCovariance: true, luma: true), weights: [0.5, 0.2, 0.3]),
      reduction: .none)
  }

  @Test("msSSIM gradient, 5 levels, 161 x 170, spot pixels")
  func msSSIMDefault() throws {
    let pair = TestPair(shape: [1, 1, 161, 170], seed: 113, kind: .mixed(0.7, 0.3), scale: 1)
    try checkMSSSIMGradient(pair, .init(), spots: true, h: 1e-4)
  }

  @Test("msSSIM gradient with MATLAB downsampling, spot pixels")
  func msSSIMMatlab() throws {
    let pair = TestPair(shape: [1, 1, 385, 394], seed: 114, kind: .mixed(0.7, 0.3), scale: 1)
    try checkMSSSIMGradient(pair, .init(ssim: .init(windowSize: 7, matlabDownsample: true), weights: [0.4, 0.6]), spots: true, h: 1e-4)
  }

  /// Level 1 in bands on several threads sharing one plane's buffers
  /// (521 x 530: 3 bands of 172 rows, the last of odd length; 760 x 770:
  /// level 2 in 2 bands too, their boundary between level 1's rows 369 and
  /// 370): the gradient at the first rows of a band, and bitwise the same
  /// on 1 and 2 threads. (Tests/python/test_ssim.py checks more rows.)
  @Test("msSSIM gradient with banded levels, band-boundary rows, 1 and 2 threads")
  func msSSIMBanded() throws {
    defer { try? Threads.set(0) }
    for (shape, rows) in [([1, 1, 521, 530], [172, 173]), ([1, 1, 760, 770], [369, 370])] {
      let pair = TestPair(shape: shape, seed: 118, kind: .mixed(0.7, 0.3), scale: 1)
      let (x, y) = pair.make()
      let indices = rows.map { $0 * shape[3] + shape[3] / 2 + 1 }
      try Threads.set(2)
      let two = try runMSSSIM(x, y, shape: shape, gradient: true)
      let numeric = try centralDifferences(x, at: indices, h: 1e-3) { probe in
        try runMSSSIM(probe, y, shape: shape).values[0]
      }
      let (relative, ok) = gradientError(indices.map { two.gradient[$0] }, numeric)
      #expect(ok, "\(shape): largest error / max |gradient| = \(relative)")
      try Threads.set(1)
      let one = try runMSSSIM(x, y, shape: shape, gradient: true)
      #expect(one.values == two.values && one.gradient == two.gradient, "\(shape)")
    }
  }

  /// relu with a negative term: a smooth image plus and minus noise has
  /// cs < 0 at level 1 (the noise dominates) and > 0 at the coarser
  /// levels. With floor 0 the value is 0 (TensorFlow's relu) and so is the
  /// gradient; with the default floor the clamped term contributes
  /// nothing, the others give a finite, non-zero gradient, and it is still
  /// the derivative of the value.
  @Test("msSSIM gradient with relu clamping is finite and exact")
  func msSSIMRelu() throws {
    let shape = [1, 1, 20, 23]
    var g = SplitMix64(seed: 116)
    var x = [Double](), y = [Double]()
    for h in 0..<20 {
      for w in 0..<23 {
        let smooth = 0.5 + 0.3 * sin(Double(h) / 2) * cos(Double(w) / 2.5)
        let noise = 0.35 * (g.next() - 0.5)
        x.append(smooth + noise)
        y.append(smooth - noise)
      }
    }
    let ssimOptions = SSIMOptions(windowSize: 3)
    let weights = [0.3, 0.3, 0.4]
    let peers = try runMSSSIM(x, y, shape: shape, options: .init(ssim: ssimOptions, weights: weights, floor: 0),
      gradient: true)
    #expect(peers.values == [0])
    #expect(peers.gradient.allSatisfy { $0 == 0 })
    let floored = try runMSSSIM(x, y, shape: shape, options: .init(ssim: ssimOptions, weights: weights),
      gradient: true)
    #expect(floored.values[0] > 0 && floored.values[0] < 0.1)
    #expect(floored.gradient.allSatisfy { $0.isFinite } && floored.gradient.contains { $0 != 0 })
    let numeric = try centralDifferences(x, at: Array(0..<x.count)) { probe in
      try runMSSSIM(probe, y, shape: shape, options: .init(ssim: ssimOptions, weights: weights)).values[0]
    }
    let (relative, ok) = gradientError(floored.gradient, numeric)
    #expect(ok, "largest error relative to max |gradient|: \(relative)")
    // Fully negative (y = 1 - x): every term clamped, value floor^(sum w), gradient 0.
    let inverted = TestPair(shape: shape, seed: 117, kind: .inverted, scale: 1)
    let (ix, iy) = inverted.make()
    let all = try runMSSSIM(ix, iy, shape: shape, options: .init(ssim: ssimOptions, weights: weights), gradient: true)
    #expect(abs(all.values[0] - 1e-6) <= 1e-18)  // (1e-6)^(0.3 + 0.3 + 0.4)
    #expect(all.gradient.allSatisfy { $0 == 0 })
  }

  @Test("float32 gradient equals the float64 gradient to float32 rounding")
  func float32Gradient() throws {
    let (x, y) = small.make()
    let x32 = converted(x, to: Float.self), y32 = converted(y, to: Float.self)
    let g32 = try runSSIM(x32, y32, shape: small.shape, options: .init(windowSize: 7, border: .reflect), gradient: true)
      .gradient
    let g64 = try runSSIM(
      x32.map(Double.init), y32.map(Double.init), shape: small.shape, options: .init(windowSize: 7, border: .reflect),
      gradient: true
    ).gradient
    #expect(zip(g32, g64).allSatisfy { Double($0) == Double(Float($1)) })
  }
}
