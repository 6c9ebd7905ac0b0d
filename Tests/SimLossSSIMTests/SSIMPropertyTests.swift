import SimLossCore
import Testing

// The mathematical properties ssim() and msSSIM() document (S18), each a
// test named after it, written once and run for Float and Double.

let propertyOptions: [SSIMOptions] = [
  .init(),
  .init(windowSize: 7, border: .reflect),
  .init(windowSize: 5, border: .zero),
  .init(windowSize: 7, gaussian: false, sampleCovariance: true),
  .init(dataRange: 255, windowSize: 9, sigma: 3),
  .init(windowSize: 1),
]

@Suite("SSIM properties")
struct SSIMPropertyTests {
  func identicalInputsGiveOne<T: SimLossFloat>(_: T.Type) throws {
    let pair = TestPair(shape: [2, 3, 24, 27], seed: 201, kind: .mixed(0.5, 0.5), scale: 1)
    let x = converted(pair.make().x, to: T.self)
    for options in propertyOptions + [.init(windowSize: 7, luma: true)] {
      let r = try runSSIM(x, x, shape: pair.shape, options: options, reduction: .none)
      #expect(r.result.values == [1, 1], "\(options)")
      #expect(r.result.perChannel.allSatisfy { $0 == 1 })
      #expect(r.result.cs.allSatisfy { $0 == 1 })
    }
    let big = TestPair(shape: [1, 1, 400, 401], seed: 202, kind: .mixed(0.5, 0.5), scale: 1)
    let b = converted(big.make().x, to: T.self)
    #expect(try runSSIM(b, b, shape: big.shape, options: .init(matlabDownsample: true)).result.values == [1])
    let ms = TestPair(shape: [1, 2, 161, 170], seed: 203, kind: .mixed(0.5, 0.5), scale: 1)
    let m = converted(ms.make().x, to: T.self)
    #expect(try runMSSSIM(m, m, shape: ms.shape).values == [1])
    #expect(try runMSSSIM(m, m, shape: ms.shape, options: .init(relu: false)).values == [1])
  }

  @Test("ssim without cs: the same values and gradient, bitwise, and no cs")
  func withoutContrastStructure() throws {
    let pair = TestPair(shape: [2, 3, 30, 33], seed: 205, kind: .mixed(0.6, 0.4), scale: 1)
    let (x, y) = pair.make()
    for options in propertyOptions {
      var xs = x, ys = y
      var g1 = [Double](repeating: 0, count: x.count), g2 = g1
      let (a, b) = try xs.withUnsafeMutableBufferPointer { xb in
        try ys.withUnsafeMutableBufferPointer { yb in
          try g1.withUnsafeMutableBufferPointer { gb1 in
            try g2.withUnsafeMutableBufferPointer { gb2 in
              let xv = try TensorView(name: "x", buffer: xb, shape: pair.shape)
              let yv = try TensorView(name: "y", buffer: yb, shape: pair.shape)
              let gv1 = try TensorView(name: "gradient", buffer: gb1, shape: pair.shape)
              let gv2 = try TensorView(name: "gradient", buffer: gb2, shape: pair.shape)
              return (
                try ssim(xv, yv, options: options, reduction: .none, gradient: gv1),
                try ssim(xv, yv, options: options, reduction: .none, gradient: gv2, contrastStructure: false)
              )
            }
          }
        }
      }
      #expect(a.values == b.values && a.perChannel == b.perChannel && g1 == g2, "\(options)")
      #expect(a.cs.count == 6 && b.cs.isEmpty)
    }
  }

  @Test("test_ssim_identical_inputs_give_one (exactly)")
  func identicalInputs() throws {
    try identicalInputsGiveOne(Float.self)
    try identicalInputsGiveOne(Double.self)
  }

  func symmetric<T: SimLossFloat>(_: T.Type) throws {
    let pair = TestPair(shape: [2, 2, 20, 23], seed: 204, kind: .mixed(0.6, 0.4), scale: 1)
    let (x, y) = pair.make()
    let xt = converted(x, to: T.self), yt = converted(y, to: T.self)
    for options in propertyOptions {
      let a = try runSSIM(xt, yt, shape: pair.shape, options: options, reduction: .none).result
      let b = try runSSIM(yt, xt, shape: pair.shape, options: options, reduction: .none).result
      #expect(a.values == b.values && a.perChannel == b.perChannel && a.cs == b.cs, "\(options)")
    }
  }

  @Test("test_ssim_symmetric (bitwise)")
  func symmetry() throws {
    try symmetric(Float.self)
    try symmetric(Double.self)
  }

  @Test("test_ssim_at_most_one")
  func atMostOne() throws {
    for seed in UInt64(205)..<210 {
      for kind in [PairKind.mixed(0.9, 0.1), .mixed(0.2, 0.8), .inverted] {
        let pair = TestPair(shape: [1, 2, 20, 21], seed: seed, kind: kind, scale: 1)
        let (x, y) = pair.make()
        for options in propertyOptions {
          let r = try runSSIM(x, y, shape: pair.shape, options: options, reduction: .none, mapShape: nil).result
          #expect(r.perChannel.allSatisfy { $0 <= 1 && $0 >= -1 })
        }
      }
    }
    let ms = TestPair(shape: [1, 1, 161, 161], seed: 210, kind: .mixed(0.9, 0.1), scale: 1)
    let (x, y) = ms.make()
    #expect(try runMSSSIM(x, y, shape: ms.shape).values[0] <= 1)
  }

  @Test("test_ssim_multichannel_is_mean_of_channels")
  func multichannel() throws {
    let pair = TestPair(shape: [1, 3, 18, 20], seed: 211, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    let options = SSIMOptions(windowSize: 7, border: .reflect)
    let whole = try runSSIM(x, y, shape: pair.shape, options: options).result
    var channels = [Double]()
    let plane = 18 * 20
    for c in 0..<3 {
      let xc = Array(x[(c * plane)..<((c + 1) * plane)]), yc = Array(y[(c * plane)..<((c + 1) * plane)])
      let r = try runSSIM(xc, yc, shape: [1, 1, 18, 20], options: options).result
      channels.append(r.values[0])
    }
    #expect(whole.perChannel == channels)
    #expect(abs(whole.values[0] - (channels[0] + channels[1] + channels[2]) / 3) <= 1e-15)
  }

  @Test("test_ssim_replicated_channels_match_grey")
  func replicatedChannels() throws {
    let pair = TestPair(shape: [1, 1, 20, 22], seed: 212, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    let grey = try runSSIM(x, y, shape: pair.shape, options: .init(windowSize: 7)).result.values[0]
    let rgb = try runSSIM(x + x + x, y + y + y, shape: [1, 3, 20, 22], options: .init(windowSize: 7)).result.values[0]
    #expect(abs(rgb - grey) <= 1e-15)
  }

  @Test("test_ssim_data_range_scaling")
  func dataRangeScaling() throws {
    let pair = TestPair(shape: [1, 2, 20, 22], seed: 213, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    let unit = try runSSIM(x, y, shape: pair.shape, options: .init(windowSize: 7)).result.values[0]
    let scaled = try runSSIM(
      x.map { $0 * 255 }, y.map { $0 * 255 }, shape: pair.shape, options: .init(dataRange: 255, windowSize: 7)
    ).result.values[0]
    #expect(abs(unit - scaled) <= 1e-12)
  }

  @Test("reductions: .mean is the mean and .sum the sum of the .none values")
  func reductions() throws {
    let pair = TestPair(shape: [3, 2, 16, 17], seed: 214, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    let options = SSIMOptions(windowSize: 5)
    let none = try runSSIM(x, y, shape: pair.shape, options: options, reduction: .none).result.values
    let mean = try runSSIM(x, y, shape: pair.shape, options: options, reduction: .mean).result.values
    let sum = try runSSIM(x, y, shape: pair.shape, options: options, reduction: .sum).result.values
    #expect(none.count == 3 && mean.count == 1 && sum.count == 1)
    #expect(sum[0] == none.reduce(0, +))
    #expect(mean[0] == none.reduce(0, +) / 3)
    let ms = try runMSSSIM(x, y, shape: pair.shape, options: .init(ssim: .init(windowSize: 3), weights: [0.5, 0.5]),
      reduction: .none).values
    #expect(ms.count == 3)
  }

  @Test("the map holds the SSIM of each position; its mean is the channel value")
  func mapValues() throws {
    let pair = TestPair(shape: [2, 3, 15, 19], seed: 215, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    for (options, mapShape) in [
      (SSIMOptions(windowSize: 5), [2, 3, 11, 15]), (SSIMOptions(windowSize: 5, border: .zero), [2, 3, 15, 19]),
      (SSIMOptions(windowSize: 5, luma: true), [2, 1, 11, 15]),
    ] {
      let r = try runSSIM(x, y, shape: pair.shape, options: options, reduction: .none, mapShape: mapShape)
      let plane = mapShape[2] * mapShape[3]
      for p in 0..<(mapShape[0] * mapShape[1]) {
        let mean = r.map[(p * plane)..<((p + 1) * plane)].reduce(0, +) / Double(plane)
        #expect(abs(mean - r.result.perChannel[p]) <= 1e-14)
      }
    }
  }
}
