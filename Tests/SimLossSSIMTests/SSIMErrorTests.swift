import SimLossCore
import Testing

// Every caller mistake is a thrown SimLossError of the documented kind, with
// a message naming the argument and the values (S25: each message is
// checked by its text); and the white-box facts of SSIM+Testing.swift.

/// The error `body` throws (or nil).
func thrown(_ body: () throws -> Void) -> SimLossError? {
  do {
    try body()
    return nil
  } catch let error as SimLossError {
    return error
  } catch {
    return SimLossError(.internal, "unexpected \(error)")
  }
}

func expectError(
  _ kind: SimLossError.Kind, containing text: String, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) {
  let error = thrown(body)
  #expect(error?.kind == kind, "got \(String(describing: error))", sourceLocation: sourceLocation)
  #expect(error?.message.contains(text) == true, "message: \(error?.message ?? "none")", sourceLocation: sourceLocation)
}

@Suite("SSIM errors and white-box facts")
struct SSIMErrorTests {
  let pair = TestPair(shape: [1, 1, 16, 16], seed: 401, kind: .mixed(0.5, 0.5), scale: 1)

  @Test("an image smaller than the window throws .tooSmall naming the minimum size and window")
  func tooSmall() {
    let p = TestPair(shape: [1, 1, 10, 12], seed: 402, kind: .mixed(0.5, 0.5), scale: 1)
    let (x, y) = p.make()
    expectError(.tooSmall, containing: "minimum size is 11 x 11 for window 11, got 10 x 12") {
      _ = try runSSIM(x, y, shape: p.shape)
    }
    // Same borders accept any size.
    #expect(thrown { _ = try runSSIM(x, y, shape: p.shape, options: .init(border: .reflect)) } == nil)
    // After MATLAB downsampling: 384 x 390 becomes 192 x 195 (f = 2).
    let big = TestPair(shape: [1, 1, 384, 390], seed: 403, kind: .mixed(0.5, 0.5), scale: 1)
    let (bx, by) = big.make()
    expectError(.tooSmall, containing: "got 192 x 195 after MATLAB downsampling of 384 x 390 by f = 2") {
      _ = try runSSIM(bx, by, shape: big.shape, options: .init(windowSize: 201, matlabDownsample: true))
    }
  }

  @Test("bad options throw .invalidArgument naming the option")
  func badOptions() {
    let (x, y) = pair.make()
    let cases: [(SSIMOptions, String)] = [
      (.init(dataRange: 0), "data_range: 0.0 must be finite and > 0"),
      (.init(dataRange: .infinity), "data_range: inf"),
      (.init(windowSize: 4), "win_size: 4 must be odd"),
      (.init(windowSize: 0), "win_size: 0 must be odd"),
      (.init(windowSize: 1025), "win_size: 1025 must be odd and in 1...1023"),
      (.init(sigma: -1), "sigma: -1.0 must be finite and > 0"),
      (.init(sigma: .nan), "sigma: nan"),
      (.init(k1: -0.01), "k1: -0.01 must be finite and >= 0"),
      (.init(k2: .nan), "k2: nan"),
      (.init(windowSize: 1, sampleCovariance: true), "sample_covariance: needs a window of at least 2 samples"),
    ]
    for (options, text) in cases {
      expectError(.invalidArgument, containing: text) { _ = try runSSIM(x, y, shape: pair.shape, options: options) }
      expectError(.invalidArgument, containing: text) { try options.validate() }
    }
    // sigma is not read for a uniform window.
    #expect(thrown { try SSIMOptions(sigma: 0, gaussian: false).validate() } == nil)
  }

  @Test("shape, rank, luma, map and overlap errors")
  func shapes() throws {
    let (x, y) = pair.make()
    expectError(.shapeMismatch, containing: "y: shape (1, 1, 16, 15) does not match x shape (1, 1, 16, 16)") {
      var x = x, y = Array(y[0..<240])
      try x.withUnsafeMutableBufferPointer { xb in
        try y.withUnsafeMutableBufferPointer { yb in
          _ = try ssim(
            TensorView(name: "x", buffer: xb, shape: [1, 1, 16, 16]),
            TensorView(name: "y", buffer: yb, shape: [1, 1, 16, 15]))
        }
      }
    }
    expectError(.rank, containing: "x: expected rank 4 (N, C, H, W), got rank 3") {
      _ = try runSSIM(x, y, shape: [1, 16, 16])
    }
    expectError(.invalidShape, containing: "x: luma needs 3 channels (R, G, B) in dimension 1, got shape (1, 1, 16, 16)") {
      _ = try runSSIM(x, y, shape: pair.shape, options: .init(luma: true))
    }
    expectError(.shapeMismatch, containing: "map: shape (1, 1, 16, 16) is not the SSIM map shape (1, 1, 6, 6)") {
      _ = try runSSIM(x, y, shape: pair.shape, mapShape: [1, 1, 16, 16])
    }
    expectError(.overlap, containing: "gradient: output memory overlaps input x") {
      var x = x, y = y
      try x.withUnsafeMutableBufferPointer { xb in
        try y.withUnsafeMutableBufferPointer { yb in
          let xv = try TensorView(name: "x", buffer: xb, shape: pair.shape)
          let gv = try TensorView(name: "gradient", buffer: xb, shape: pair.shape)
          _ = try ssim(xv, TensorView(name: "y", buffer: yb, shape: pair.shape), gradient: gv)
        }
      }
    }
  }

  @Test("MS-SSIM errors: minimum size, border, weights, floor")
  func msSSIMErrors() throws {
    let p = TestPair(shape: [1, 1, 160, 200], seed: 404, kind: .mixed(0.5, 0.5), scale: 1)
    let (x, y) = p.make()
    expectError(.tooSmall, containing: "the minimum size is 161 on both sides (simloss_ms_ssim_min_side() in C, msSSIMMinimumSide in Swift), got 160 x 200") {
      _ = try runMSSSIM(x, y, shape: p.shape)
    }
    expectError(.invalidArgument, containing: "border: MS-SSIM uses the valid region at every level") {
      _ = try runMSSSIM(x, y, shape: p.shape, options: .init(ssim: .init(border: .reflect)))
    }
    expectError(.invalidArgument, containing: "weights: 0 levels is outside 1...16") {
      _ = try runMSSSIM(x, y, shape: p.shape, options: .init(weights: []))
    }
    expectError(.invalidArgument, containing: "weights: weight 1 is nan") {
      _ = try runMSSSIM(x, y, shape: p.shape, options: .init(weights: [0.5, .nan]))
    }
    expectError(.invalidArgument, containing: "floor: 1.0 must be in [0, 1)") {
      _ = try runMSSSIM(x, y, shape: p.shape, options: .init(floor: 1))
    }
    // Fewer levels fit: 3 levels of window 11 need 41.
    #expect(thrown { _ = try runMSSSIM(x, y, shape: p.shape, options: .init(weights: [0.3, 0.3, 0.4])) } == nil)
  }

  @Test("msSSIMMinimumSide: 161 for window 11 and 5 levels, round-up rule")
  func minimumSide() {
    #expect(msSSIMMinimumSide(windowSize: 11, levels: 5) == 161)
    #expect(msSSIMMinimumSide(windowSize: 7, levels: 3) == 25)
    #expect(msSSIMMinimumSide(windowSize: 1, levels: 5) == 1)
    #expect(msSSIMMinimumSide(windowSize: 11, levels: 1) == 11)
    #expect(msSSIMMinimumSide(windowSize: 11, levels: 70) == Int.max)
    for (win, levels) in [(11, 5), (7, 3), (3, 4), (5, 2)] {
      let m = msSSIMMinimumSide(windowSize: win, levels: levels)
      #expect(testingMSSSIMLevelSides(m, levels: levels).last! >= win)
      #expect(testingMSSSIMLevelSides(m - 1, levels: levels).last! < win)
    }
    #expect(testingMSSSIMLevelSides(161, levels: 5) == [161, 81, 41, 21, 11])
    #expect(testingMSSSIMLevelSides(199, levels: 5) == [199, 100, 50, 25, 13])
  }

  @Test("window taps: the reference's, symmetric, summing to 1")
  func windowTaps() {
    // ssim_reference.gaussian_window(11, 1.5) and (7, 2.0).
    let g11 = [
      0.00102838008447911, 0.007598758135239185, 0.03600077212843083, 0.10936068950970002, 0.2130055377112537,
      0.26601172486179436, 0.2130055377112537, 0.10936068950970002, 0.03600077212843083, 0.007598758135239185,
      0.00102838008447911,
    ]
    let g7 = [
      0.07015932695902607, 0.131074878967366, 0.19071282356963734, 0.21610594100794114, 0.19071282356963734,
      0.131074878967366, 0.07015932695902607,
    ]
    let t11 = SSIMOptions().testingWindowTaps, t7 = SSIMOptions(windowSize: 7, sigma: 2).testingWindowTaps
    #expect(maxAbsDifference(t11, g11) <= 1e-16)  // an ulp: the normalising sums add in another order
    #expect(maxAbsDifference(t7, g7) <= 1e-16)
    #expect(t11 == t11.reversed())
    #expect(abs(t11.reduce(0, +) - 1) <= 1e-15)
    #expect(SSIMOptions(windowSize: 7, gaussian: false).testingWindowTaps == [Double](repeating: 1.0 / 7, count: 7))
  }

  @Test("MATLAB downsampling factor: round(min(H, W) / 256), halves away from zero")
  func downsampleFactor() {
    #expect(testingMatlabDownsampleFactor(height: 383, width: 1000) == 1)
    #expect(testingMatlabDownsampleFactor(height: 384, width: 1000) == 2)
    #expect(testingMatlabDownsampleFactor(height: 639, width: 640) == 2)
    #expect(testingMatlabDownsampleFactor(height: 640, width: 640) == 3)
    #expect(testingMatlabDownsampleFactor(height: 512, width: 512) == 2)
  }

  @Test("the MS-SSIM gradient step: scale, then the pyramid transpose, mirrored ends included, bitwise")
  func scaleAddHalveTranspose() {
    for (h, w) in [(1, 1), (2, 3), (5, 4), (7, 9), (16, 16), (3, 11), (5, 13), (4, 15), (7, 31)] {
      let h2 = (h + 1) / 2, w2 = (w + 1) / 2
      let g = (0..<(h2 * w2)).map { Double($0 % 7) * 0.37 - 1.1 }
      let acc = (0..<(h * w)).map { Double($0 % 5) * 0.29 + 0.013 }
      let scale = 0.731
      // The definition, one element of g at a time: halve's reads of
      // rows 2i, min(2i + 1, h - 1) and columns 2j, min(2j + 1, w - 1).
      var expected = acc.map { $0 * scale }
      for i in 0..<h2 {
        for j in 0..<w2 {
          let v = 0.25 * g[i * w2 + j]
          for r in [2 * i, min(2 * i + 1, h - 1)] {
            for c in [2 * j, min(2 * j + 1, w - 1)] { expected[r * w + c] += v }
          }
        }
      }
      #expect(testingScaleAddHalveTranspose(g, height: h, width: w, acc: acc, scale: scale) == expected, "\(h) x \(w)")
    }
  }

  @Test("the MS-SSIM pyramid row step is its scalar formula, bitwise, at every width's tail")
  func halveRowBitwise() {
    var g = SplitMix64(seed: 401)
    for w in 1...41 {
      // Magnitudes 2^0 ... 2^39, so that another order of the four
      // additions rounds differently.
      let r0 = (0..<w).map { c in g.next() * Double(1 << ((c * 7) % 40)) }
      let r1 = (0..<w).map { c in g.next() * Double(1 << ((c * 13) % 40)) }
      let expected = (0..<((w + 1) / 2)).map { j -> Double in
        let c0 = 2 * j, c1 = min(2 * j + 1, w - 1)
        return 0.25 * (((r0[c0] + r1[c0]) + r0[c1]) + r1[c1])
      }
      #expect(testingHalveRow(r0, r1) == expected, "width \(w)")
    }
  }

  @Test("padding indices are numpy's reflect and symmetric, at any distance")
  func paddingIndices() {
    // np.pad(np.arange(3.), (7, 7), mode=...)
    #expect((-7..<10).map { testingReflectIndex($0, 3) } == [1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1])
    #expect((-7..<10).map { testingSymmetricIndex($0, 3) } == [0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2])
    #expect((-3..<4).map { testingReflectIndex($0, 1) } == [0, 0, 0, 0, 0, 0, 0])
  }
}
