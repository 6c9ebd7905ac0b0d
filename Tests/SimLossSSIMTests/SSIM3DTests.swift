import SimLossCore
import Testing

// ssim3D(): volumetric SSIM (N, C, D, H, W) under a win^3 window.
//
// Values against ssim3d of the float64 numpy reference
// (Tests/python/reference/ssim_reference.py): float64 within 1e-12, float32
// within 3e-6 of the reference computed on the same data rounded to
// float32; exact properties (identical volumes give 1, symmetry, channel
// mean, reductions); the gradient against central differences; bitwise
// independence of the thread count and of the strides; every caller
// mistake as a thrown error with its message.
//
// The expected numbers below were generated, from the repository root, by
// this snippet (numpy 2.4.6; inputs from generate_reference.pair, the
// splitmix64 generator that `TestPair` reproduces; the float32 columns use
// the same pairs rounded to float32):
//
//   python3 - <<'EOF'
//   import sys
//   sys.path.insert(0, "Tests/SimLossSSIMTests"); sys.path.insert(0, "Tests/python/reference")
//   import numpy as np, generate_reference as g, ssim_reference as ref
//   CASES = [  # name, shape, seed, kind, scale, ssim3d kwargs
//       ("vol_13x14x15_win7", (1, 1, 13, 14, 15), 601, (0.7, 0.3), 1.0, {"win_size": 7}),
//       ("vol_13x14x15_win11", (1, 1, 13, 14, 15), 602, (0.6, 0.4), 1.0, {}),
//       ("batch_2x2x12_win5", (2, 2, 12, 12, 12), 603, (0.8, 0.2), 1.0, {"win_size": 5, "sigma": 1.0}),
//       ("uniform_samplecov", (1, 2, 10, 11, 12), 604, (0.5, 0.5), 1.0,
//        {"win_size": 5, "gaussian": False, "sample_covariance": True}),
//       ("gauss_samplecov_255", (2, 1, 9, 10, 11), 605, (0.5, 0.5), 255.0,
//        {"win_size": 7, "sigma": 2.0, "data_range": 255.0, "sample_covariance": True}),
//       ("inverted_constants", (1, 1, 8, 9, 10), 606, "inverted", 1.0, {"win_size": 3, "k1": 0.05, "k2": 0.1}),
//   ]
//   for name, shape, seed, kind, scale, kw in CASES:
//       x, y = g.pair(shape, seed, kind, scale)
//       r = ref.ssim3d(x, y, **kw)
//       r32 = ref.ssim3d(x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64), **kw)
//       print(name, g.swift_list(r["per_image"]), g.swift_list(r["per_channel"]), g.swift_list(r["cs_per_channel"]),
//             g.swift_list(r32["per_image"]), g.swift_list(r32["per_channel"]), g.swift_list(r32["cs_per_channel"]),
//             sep="\n  ")
//   EOF

/// One ssim3D expectation: per-image values, per-channel means and
/// per-channel mean cs of the reference, for the float64 pair and for the
/// same pair rounded to float32.
struct SSIM3DReferenceCase: Sendable, CustomStringConvertible {
  let name: String
  let pair: TestPair
  let options: SSIMOptions
  let perImage: [Double]
  let perChannel: [Double]
  let cs: [Double]
  let perImageFloat32: [Double]
  let perChannelFloat32: [Double]
  let csFloat32: [Double]
  var description: String { name }
}

let ssim3DReferenceCases: [SSIM3DReferenceCase] = [
  SSIM3DReferenceCase(
    name: "vol_13x14x15_win7",
    pair: TestPair(shape: [1, 1, 13, 14, 15], seed: 601, kind: .mixed(0.7, 0.3), scale: 1.0),
    options: .init(windowSize: 7),
    perImage: [0.8807895085378252], perChannel: [0.8807895085378252], cs: [0.8809019106545252],
    perImageFloat32: [0.8807895095781666], perChannelFloat32: [0.8807895095781666],
    csFloat32: [0.8809019116957859]),
  SSIM3DReferenceCase(
    name: "vol_13x14x15_win11",
    pair: TestPair(shape: [1, 1, 13, 14, 15], seed: 602, kind: .mixed(0.6, 0.4), scale: 1.0),
    options: .init(),
    perImage: [0.8097626166448266], perChannel: [0.8097626166448266], cs: [0.8098862624215802],
    perImageFloat32: [0.8097626191812934], perChannelFloat32: [0.8097626191812934],
    csFloat32: [0.8098862649805532]),
  SSIM3DReferenceCase(
    name: "batch_2x2x12_win5",
    pair: TestPair(shape: [2, 2, 12, 12, 12], seed: 603, kind: .mixed(0.8, 0.2), scale: 1.0),
    options: .init(windowSize: 5, sigma: 1.0),
    perImage: [0.9519155741093506, 0.950672463298678],
    perChannel: [0.9493816967025615, 0.9544494515161397, 0.9502044895362086, 0.9511404370611476],
    cs: [0.9497239695870268, 0.9546499896604737, 0.9504974584057331, 0.951465384698913],
    perImageFloat32: [0.9519155738490168, 0.9506724632936812],
    perChannelFloat32: [0.9493816961771233, 0.9544494515209103, 0.9502044896753985, 0.9511404369119639],
    csFloat32: [0.9497239690803543, 0.9546499896473173, 0.950497458537022, 0.9514653845666765]),
  SSIM3DReferenceCase(
    name: "uniform_samplecov",
    pair: TestPair(shape: [1, 2, 10, 11, 12], seed: 604, kind: .mixed(0.5, 0.5), scale: 1.0),
    options: .init(windowSize: 5, gaussian: false, sampleCovariance: true),
    perImage: [0.6889949879550241], perChannel: [0.7027761392605951, 0.6752138366494532],
    cs: [0.7033382903535398, 0.6755583074952335],
    perImageFloat32: [0.6889949877510166], perChannelFloat32: [0.7027761375346445, 0.6752138379673887],
    csFloat32: [0.7033382886509378, 0.6755583087854614]),
  SSIM3DReferenceCase(
    name: "gauss_samplecov_255",
    pair: TestPair(shape: [2, 1, 9, 10, 11], seed: 605, kind: .mixed(0.5, 0.5), scale: 255.0),
    options: .init(dataRange: 255, windowSize: 7, sigma: 2.0, sampleCovariance: true),
    perImage: [0.6942461319643822, 0.6572561026557586], perChannel: [0.6942461319643822, 0.6572561026557586],
    cs: [0.694456168990424, 0.6575237711274716],
    perImageFloat32: [0.6942461311449543, 0.6572561014874226],
    perChannelFloat32: [0.6942461311449543, 0.6572561014874226],
    csFloat32: [0.6944561681620864, 0.6575237699929671]),
  SSIM3DReferenceCase(
    name: "inverted_constants",
    pair: TestPair(shape: [1, 1, 8, 9, 10], seed: 606, kind: .inverted, scale: 1.0),
    options: .init(windowSize: 3, k1: 0.05, k2: 0.1),
    perImage: [-0.8576402876575765], perChannel: [-0.8576402876575765], cs: [-0.8817514713368032],
    perImageFloat32: [-0.8576402878838937], perChannelFloat32: [-0.8576402878838937],
    csFloat32: [-0.8817514713633579]),
]

/// What one ssim3D call gave.
struct SSIM3DRun<T: SimLossFloat> {
  var result: SSIMResult
  var gradient: [T]
}

/// ssim3D on dense NCDHW arrays, with the gradient when asked for.
func runSSIM3D<T: SimLossFloat>(
  _ x: [T], _ y: [T], shape: [Int], options: SSIMOptions = .init(), reduction: Reduction = .mean,
  gradient: Bool = false
) throws -> SSIM3DRun<T> {
  var x = x, y = y
  var g = [T](repeating: 0, count: gradient ? x.count : 1)
  let result = try x.withUnsafeMutableBufferPointer { xb in
    try y.withUnsafeMutableBufferPointer { yb in
      try g.withUnsafeMutableBufferPointer { gb in
        let xv = try TensorView(name: "x", buffer: xb, shape: shape)
        let yv = try TensorView(name: "y", buffer: yb, shape: shape)
        let gv = gradient ? try TensorView(name: "gradient", buffer: gb, shape: shape) : nil
        return try ssim3D(xv, yv, options: options, reduction: reduction, gradient: gv)
      }
    }
  }
  return SSIM3DRun(result: result, gradient: gradient ? g : [])
}

/// Dense NCDHW index.
func ssim3DIndex(_ s: [Int], _ n: Int, _ c: Int, _ d: Int, _ h: Int, _ w: Int) -> Int {
  (((n * s[1] + c) * s[2] + d) * s[3] + h) * s[4] + w
}

/// Corners, edges, the centre and a few interior voxels of every channel
/// of the first and last volume.
func ssim3DSpotIndices(_ s: [Int]) -> [Int] {
  let (n, c, d, h, w) = (s[0], s[1], s[2], s[3], s[4])
  var out = [Int]()
  for image in Set([0, n - 1]).sorted() {
    for channel in 0..<c {
      for (i, j, k) in [
        (0, 0, 0), (d - 1, h - 1, w - 1), (d / 2, h / 2, w / 2), (0, h / 2, w - 1), (d - 1, 0, w / 2),
        (1, 2, 3), (d / 3, 2 * h / 3, 1), (d - 2, h - 2, w - 2), (d / 2, 0, 0), (2, h - 1, w / 3),
      ] {
        out.append(ssim3DIndex(s, image, channel, i, j, k))
      }
    }
  }
  return out
}

@Suite("3-D SSIM")
struct SSIM3DTests {
  @Test("ssim3D float64 matches the reference within 1e-12", arguments: ssim3DReferenceCases)
  func float64(_ c: SSIM3DReferenceCase) throws {
    let (x, y) = c.pair.make()
    let r = try runSSIM3D(x, y, shape: c.pair.shape, options: c.options, reduction: .none).result
    #expect(maxAbsDifference(r.values, c.perImage) <= 1e-12)
    #expect(maxAbsDifference(r.perChannel, c.perChannel) <= 1e-12)
    #expect(maxAbsDifference(r.cs, c.cs) <= 1e-12)
    let mean = try runSSIM3D(x, y, shape: c.pair.shape, options: c.options).result.values
    #expect(mean.count == 1)
    #expect(abs(mean[0] - c.perImage.reduce(0, +) / Double(c.perImage.count)) <= 1e-12)
  }

  @Test("ssim3D float32 matches the reference on the float32 data within 3e-6", arguments: ssim3DReferenceCases)
  func float32(_ c: SSIM3DReferenceCase) throws {
    let (x, y) = c.pair.make()
    let r = try runSSIM3D(
      converted(x, to: Float.self), converted(y, to: Float.self), shape: c.pair.shape, options: c.options,
      reduction: .none
    ).result
    #expect(maxAbsDifference(r.values, c.perImageFloat32) <= 3e-6)
    #expect(maxAbsDifference(r.perChannel, c.perChannelFloat32) <= 3e-6)
    #expect(maxAbsDifference(r.cs, c.csFloat32) <= 3e-6)
    // And against the float64 pair.
    #expect(maxAbsDifference(r.values, c.perImage) <= 3e-6)
  }

  /// Not a check: prints the largest differences seen, for the record.
  @Test("precision summary (printed)")
  func precisionSummary() throws {
    var worst64 = 0.0, worst32 = 0.0
    for c in ssim3DReferenceCases {
      let (x, y) = c.pair.make()
      let r64 = try runSSIM3D(x, y, shape: c.pair.shape, options: c.options, reduction: .none).result
      let r32 = try runSSIM3D(
        converted(x, to: Float.self), converted(y, to: Float.self), shape: c.pair.shape, options: c.options,
        reduction: .none
      ).result
      worst64 = max(
        worst64, maxAbsDifference(r64.values, c.perImage), maxAbsDifference(r64.perChannel, c.perChannel),
        maxAbsDifference(r64.cs, c.cs))
      worst32 = max(
        worst32, maxAbsDifference(r32.values, c.perImageFloat32),
        maxAbsDifference(r32.perChannel, c.perChannelFloat32), maxAbsDifference(r32.cs, c.csFloat32))
    }
    print("ssim3D vs reference: float64 max |diff| = \(worst64), float32 max |diff| = \(worst32)")
  }

  @Test("identical volumes give exactly 1, float64 and float32")
  func identical() throws {
    let p = TestPair(shape: [2, 3, 9, 10, 11], seed: 611, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, _) = p.make()
    for options in [SSIMOptions(windowSize: 5), .init(windowSize: 7, gaussian: false, sampleCovariance: true)] {
      let r = try runSSIM3D(x, x, shape: p.shape, options: options, reduction: .none, gradient: true)
      #expect(r.result.values == [1, 1])
      #expect(r.result.perChannel.allSatisfy { $0 == 1 })
      #expect(r.result.cs.allSatisfy { $0 == 1 })
      #expect(try runSSIM3D(x, x, shape: p.shape, options: options).result.values == [1])
      // 1 is the maximum: the gradient vanishes (up to rounding).
      #expect(r.gradient.allSatisfy { abs($0) <= 1e-12 })
      let xf = converted(x, to: Float.self)
      #expect(try runSSIM3D(xf, xf, shape: p.shape, options: options).result.values == [1])
    }
  }

  @Test("symmetric bitwise, at most 1, reductions and the channel mean")
  func properties() throws {
    let p = TestPair(shape: [3, 2, 8, 9, 10], seed: 612, kind: .mixed(0.6, 0.4), scale: 1)
    let (x, y) = p.make()
    let options = SSIMOptions(windowSize: 5)
    let xy = try runSSIM3D(x, y, shape: p.shape, options: options, reduction: .none).result
    let yx = try runSSIM3D(y, x, shape: p.shape, options: options, reduction: .none).result
    #expect(xy.values == yx.values)
    #expect(xy.perChannel == yx.perChannel)
    #expect(xy.cs == yx.cs)
    #expect(xy.values.allSatisfy { $0 < 1 })
    for n in 0..<3 {
      #expect(abs(xy.values[n] - (xy.perChannel[2 * n] + xy.perChannel[2 * n + 1]) / 2) <= 1e-15)
    }
    let sum = try runSSIM3D(x, y, shape: p.shape, options: options, reduction: .sum).result.values
    let mean = try runSSIM3D(x, y, shape: p.shape, options: options, reduction: .mean).result.values
    #expect(sum.count == 1 && abs(sum[0] - xy.values.reduce(0, +)) <= 1e-14)
    #expect(mean.count == 1 && abs(mean[0] - xy.values.reduce(0, +) / 3) <= 1e-14)
    // A single-channel volume pair has the value of its channel in a batch.
    let one = TestPair(shape: [1, 1, 8, 9, 10], seed: 613, kind: .mixed(0.6, 0.4), scale: 1)
    let (x1, y1) = one.make()
    let single = try runSSIM3D(x1, y1, shape: one.shape, options: options).result.values[0]
    let twice = try runSSIM3D(x1 + x1, y1 + y1, shape: [2, 1, 8, 9, 10], options: options, reduction: .none)
    #expect(twice.result.values == [single, single])
  }

  struct GradientCase: Sendable, CustomStringConvertible {
    let name: String
    let pair: TestPair
    let options: SSIMOptions
    let reduction: Reduction
    let allEntries: Bool
    let h: Double
    var description: String { name }
  }

  static let gradientCases: [GradientCase] = [
    GradientCase(
      name: "Gaussian window 5, mean, two channels",
      pair: TestPair(shape: [1, 2, 8, 9, 10], seed: 621, kind: .mixed(0.7, 0.3), scale: 1),
      options: .init(windowSize: 5), reduction: .mean, allEntries: false, h: 1e-6),
    GradientCase(
      name: "uniform window 3, sample covariance, none, every voxel",
      pair: TestPair(shape: [2, 1, 6, 7, 8], seed: 622, kind: .mixed(0.5, 0.5), scale: 1),
      options: .init(windowSize: 3, gaussian: false, sampleCovariance: true), reduction: .none, allEntries: true,
      h: 1e-6),
    GradientCase(
      name: "window 5, sigma 2, range 255, sum, inverted",
      pair: TestPair(shape: [2, 2, 7, 8, 9], seed: 623, kind: .inverted, scale: 255),
      options: .init(dataRange: 255, windowSize: 5, sigma: 2), reduction: .sum, allEntries: false, h: 1e-4),
  ]

  @Test("the gradient matches central differences (Double)", arguments: gradientCases)
  func gradient(_ c: GradientCase) throws {
    let (x, y) = c.pair.make()
    let run = try runSSIM3D(x, y, shape: c.pair.shape, options: c.options, reduction: c.reduction, gradient: true)
    let indices = c.allEntries ? Array(0..<x.count) : ssim3DSpotIndices(c.pair.shape)
    let numeric = try centralDifferences(x, at: indices, h: c.h) { probe in
      try runSSIM3D(probe, y, shape: c.pair.shape, options: c.options, reduction: c.reduction)
        .result.values.reduce(0, +)
    }
    let (relative, ok) = gradientError(indices.map { run.gradient[$0] }, numeric)
    #expect(ok, "largest error relative to max |gradient|: \(relative)")
    print("ssim3D gradient check \(c.pair.shape) \(c.name): largest error / max |gradient| = \(relative)")
    #expect(run.gradient.allSatisfy { $0.isFinite })
    #expect(numeric.contains { $0 != 0 })
  }

  @Test("the float32 gradient is the Double gradient of the float32 data, rounded")
  func gradientFloat32() throws {
    let p = TestPair(shape: [1, 2, 8, 9, 10], seed: 624, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = p.make()
    let xf = converted(x, to: Float.self), yf = converted(y, to: Float.self)
    let options = SSIMOptions(windowSize: 5)
    let g32 = try runSSIM3D(xf, yf, shape: p.shape, options: options, gradient: true).gradient
    let g64 = try runSSIM3D(
      xf.map(Double.init), yf.map(Double.init), shape: p.shape, options: options, gradient: true
    ).gradient
    let scale = g64.map(abs).max()!
    #expect(maxAbsDifference(g32.map(Double.init), g64) <= 1e-7 * scale)
    // Rounding once: each entry is Float(the Double gradient).
    #expect(g32 == g64.map { Float($0) })
  }

  @Test("threads: bitwise the same values and gradient for 1, 2 and 3 threads")
  func threads() throws {
    defer { try? Threads.set(0) }
    let p = TestPair(shape: [2, 3, 10, 11, 12], seed: 631, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = p.make()
    let options = SSIMOptions(windowSize: 5)
    var runs: [SSIM3DRun<Double>] = []
    var runs32: [SSIM3DRun<Float>] = []
    for threads in [1, 2, 3] {
      try Threads.set(threads)
      runs.append(try runSSIM3D(x, y, shape: p.shape, options: options, reduction: .none, gradient: true))
      runs32.append(
        try runSSIM3D(
          converted(x, to: Float.self), converted(y, to: Float.self), shape: p.shape, options: options,
          gradient: true))
    }
    try Threads.set(0)
    for r in runs.dropFirst() {
      #expect(r.result.values == runs[0].result.values)
      #expect(r.result.perChannel == runs[0].result.perChannel)
      #expect(r.result.cs == runs[0].result.cs)
      #expect(r.gradient == runs[0].gradient)
    }
    for r in runs32.dropFirst() {
      #expect(r.result.values == runs32[0].result.values)
      #expect(r.gradient == runs32[0].gradient)
    }
  }

  @Test("strides: channels-last and a reversed, padded W axis give the dense bits")
  func layouts() throws {
    let s = [2, 2, 7, 8, 9]
    let p = TestPair(shape: s, seed: 641, kind: .mixed(0.6, 0.4), scale: 1)
    let (x, y) = p.make()
    let options = SSIMOptions(windowSize: 5)
    let dense = try runSSIM3D(x, y, shape: s, options: options, reduction: .none, gradient: true)
    let (n, c, d, h, w) = (s[0], s[1], s[2], s[3], s[4])
    // Channels last: (n, d, h, w, c) in memory.
    let last = [d * h * w * c, 1, h * w * c, w * c, c]
    // NCDHW with rows padded to 2 w + 3 and W reversed (negative stride).
    let rowStride = 2 * w + 3
    let flipped = [c * d * h * rowStride, d * h * rowStride, h * rowStride, rowStride, -2]
    for (strides, offset, size) in [
      (last, 0, x.count), (flipped, 2 * (w - 1), n * c * d * h * rowStride),
    ] {
      func store(_ v: [Double]) -> [Double] {
        var b = [Double](repeating: .nan, count: size)
        for i0 in 0..<n { for i1 in 0..<c { for i2 in 0..<d { for i3 in 0..<h { for i4 in 0..<w {
          let o = offset + i0 * strides[0] + i1 * strides[1] + i2 * strides[2] + i3 * strides[3] + i4 * strides[4]
          b[o] = v[ssim3DIndex(s, i0, i1, i2, i3, i4)]
        } } } } }
        return b
      }
      var xb = store(x), yb = store(y)
      var gb = [Double](repeating: .nan, count: size)
      let r = try xb.withUnsafeMutableBufferPointer { xp in
        try yb.withUnsafeMutableBufferPointer { yp in
          try gb.withUnsafeMutableBufferPointer { gp in
            try ssim3D(
              TensorView(name: "x", buffer: xp, offset: offset, shape: s, strides: strides),
              TensorView(name: "y", buffer: yp, offset: offset, shape: s, strides: strides),
              options: options, reduction: .none,
              gradient: TensorView(name: "gradient", buffer: gp, offset: offset, shape: s, strides: strides))
          }
        }
      }
      #expect(r.values == dense.result.values)
      #expect(r.perChannel == dense.result.perChannel)
      #expect(r.cs == dense.result.cs)
      #expect(store(dense.gradient).elementsEqual(gb) { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }
  }

  @Test("bad input throws: rank, shape, luma, border, downsampling, too small, window, overlap")
  func errors() throws {
    let p = TestPair(shape: [1, 1, 8, 9, 10], seed: 651, kind: .mixed(0.5, 0.5), scale: 1)
    let (x, y) = p.make()
    expectError(.rank, containing: "x: expected rank 5 (N, C, D, H, W), got rank 4 with shape (1, 8, 9, 10)") {
      _ = try runSSIM3D(x, y, shape: [1, 8, 9, 10])
    }
    expectError(.invalidArgument, containing: "luma: 3-D SSIM has no luma conversion") {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 5, luma: true))
    }
    expectError(.invalidArgument, containing: "border: 3-D SSIM supports only valid, got reflect") {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 5, border: .reflect))
    }
    expectError(.invalidArgument, containing: "border: 3-D SSIM supports only valid, got zero") {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 5, border: .zero))
    }
    expectError(.invalidArgument, containing: "matlab_downsample: 3-D SSIM has no MATLAB ssim.m downsampling") {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 5, matlabDownsample: true))
    }
    expectError(
      .tooSmall,
      containing: "x: shape (1, 1, 8, 9, 10) is too small for 3-D SSIM: the minimum size is 9 x 9 x 9 (D x H x W) "
        + "for window 9, got 8 x 9 x 10"
    ) {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 9))
    }
    expectError(.tooSmall, containing: "the minimum size is 11 x 11 x 11 (D x H x W) for window 11, got 8 x 9 x 10") {
      _ = try runSSIM3D(x, y, shape: p.shape)
    }
    expectError(.invalidArgument, containing: "win_size: 4 must be odd") {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 4))
    }
    expectError(.invalidArgument, containing: "data_range: 0.0 must be finite and > 0") {
      _ = try runSSIM3D(x, y, shape: p.shape, options: .init(dataRange: 0, windowSize: 5))
    }
    expectError(.shapeMismatch, containing: "y: shape (1, 1, 8, 9, 9) does not match x shape (1, 1, 8, 9, 10)") {
      var x = x, y = y
      try x.withUnsafeMutableBufferPointer { xb in
        try y.withUnsafeMutableBufferPointer { yb in
          _ = try ssim3D(
            TensorView(name: "x", buffer: xb, shape: p.shape),
            TensorView(name: "y", buffer: yb, shape: [1, 1, 8, 9, 9]), options: .init(windowSize: 5))
        }
      }
    }
    expectError(.overlap, containing: "gradient: output memory overlaps input x") {
      var x = x, y = y
      try x.withUnsafeMutableBufferPointer { xb in
        try y.withUnsafeMutableBufferPointer { yb in
          _ = try ssim3D(
            TensorView(name: "x", buffer: xb, shape: p.shape), TensorView(name: "y", buffer: yb, shape: p.shape),
            options: .init(windowSize: 5), gradient: TensorView(name: "gradient", buffer: xb, shape: p.shape))
        }
      }
    }
    // The smallest volume that fits: a single map voxel.
    #expect(thrown { _ = try runSSIM3D(x, y, shape: p.shape, options: .init(windowSize: 7)) } == nil)
    let tiny = TestPair(shape: [1, 1, 5, 5, 5], seed: 652, kind: .mixed(0.5, 0.5), scale: 1)
    let (tx, ty) = tiny.make()
    #expect(try runSSIM3D(tx, ty, shape: tiny.shape, options: .init(windowSize: 5)).result.values[0].isFinite)
  }
}
