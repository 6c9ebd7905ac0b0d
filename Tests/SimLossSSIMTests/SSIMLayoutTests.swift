import SimLossCore
import Testing

// Layout and thread-count independence: the same logical tensors give
// bitwise the same values, gradients and maps whatever the strides
// (NCHW, NHWC, negative strides, padded rows) and whatever Threads.count.

/// A logical NCHW tensor stored in another layout.
enum Layout: CaseIterable, Sendable {
  case nchw, nhwc, flippedPadded

  /// A buffer holding `values` (dense NCHW) in this layout, with the offset
  /// of element (0, 0, 0, 0) and the strides of the view.
  func store(_ values: [Double], _ s: [Int]) -> (buffer: [Double], offset: Int, strides: [Int]) {
    let (n, c, h, w) = (s[0], s[1], s[2], s[3])
    switch self {
    case .nchw:
      return (values, 0, [c * h * w, h * w, w, 1])
    case .nhwc:
      var b = [Double](repeating: .nan, count: values.count)
      for i in 0..<n { for k in 0..<c { for r in 0..<h { for q in 0..<w {
        b[((i * h + r) * w + q) * c + k] = values[index(s, i, k, r, q)]
      } } } }
      return (b, 0, [h * w * c, 1, w * c, c])
    case .flippedPadded:
      // Rows of w + 3 elements, columns stored right to left.
      let row = w + 3
      var b = [Double](repeating: .nan, count: n * c * h * row)
      for i in 0..<n { for k in 0..<c { for r in 0..<h { for q in 0..<w {
        b[((i * c + k) * h + r) * row + (w - 1 - q)] = values[index(s, i, k, r, q)]
      } } } }
      return (b, w - 1, [c * h * row, h * row, row, -1])
    }
  }

  /// Reads a buffer written in this layout back to dense NCHW.
  func load(_ b: [Double], _ s: [Int], offset: Int, strides: [Int]) -> [Double] {
    var out = [Double](repeating: 0, count: s.reduce(1, *))
    for i in 0..<s[0] { for k in 0..<s[1] { for r in 0..<s[2] { for q in 0..<s[3] {
      out[index(s, i, k, r, q)] = b[offset + i * strides[0] + k * strides[1] + r * strides[2] + q * strides[3]]
    } } } }
    return out
  }
}

/// ssim with every operand in `layout`; returns values, gradient and map in NCHW.
func ssimInLayout(
  _ layout: Layout, _ x: [Double], _ y: [Double], shape: [Int], options: SSIMOptions, mapShape: [Int]
) throws -> (SSIMResult, [Double], [Double]) {
  var (xb, offset, strides) = layout.store(x, shape)
  var yb = layout.store(y, shape).buffer
  var gb = layout.store([Double](repeating: 0, count: x.count), shape).buffer
  let (mapStore, mapOffset, mapStrides) = layout.store([Double](repeating: 0, count: mapShape.reduce(1, *)), mapShape)
  var mb = mapStore
  let result = try xb.withUnsafeMutableBufferPointer { xp in
    try yb.withUnsafeMutableBufferPointer { yp in
      try gb.withUnsafeMutableBufferPointer { gp in
        try mb.withUnsafeMutableBufferPointer { mp in
          try ssim(
            TensorView(name: "x", buffer: xp, offset: offset, shape: shape, strides: strides),
            TensorView(name: "y", buffer: yp, offset: offset, shape: shape, strides: strides),
            options: options, reduction: .none,
            gradient: TensorView(name: "gradient", buffer: gp, offset: offset, shape: shape, strides: strides),
            map: TensorView(name: "map", buffer: mp, offset: mapOffset, shape: mapShape, strides: mapStrides))
        }
      }
    }
  }
  return (
    result, layout.load(gb, shape, offset: offset, strides: strides),
    layout.load(mb, mapShape, offset: mapOffset, strides: mapStrides)
  )
}

@Suite("SSIM layouts and threads")
struct SSIMLayoutTests {
  @Test("test_ssim_layouts_bitwise_equal")
  func layouts() throws {
    let pair = TestPair(shape: [2, 3, 17, 21], seed: 301, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    for (options, mapShape) in [
      (SSIMOptions(windowSize: 7), [2, 3, 11, 15]), (SSIMOptions(windowSize: 7, border: .reflect), [2, 3, 17, 21]),
    ] {
      let reference = try ssimInLayout(.nchw, x, y, shape: pair.shape, options: options, mapShape: mapShape)
      for layout in Layout.allCases {
        let r = try ssimInLayout(layout, x, y, shape: pair.shape, options: options, mapShape: mapShape)
        #expect(r.0.values == reference.0.values && r.0.perChannel == reference.0.perChannel, "\(layout)")
        #expect(r.1 == reference.1, "gradient, \(layout)")
        #expect(r.2 == reference.2, "map, \(layout)")
      }
    }
  }

  @Test("test_ssim_threads_bitwise_equal")
  func threads() throws {
    defer { try? Threads.set(0) }
    // 400 x 380 with window 11 is cut into two bands per plane.
    #expect(testingSSIMBandRows(ho: 390, wo: 370) < 390)
    let pair = TestPair(shape: [1, 2, 400, 380], seed: 302, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    let ms = TestPair(shape: [3, 1, 161, 165], seed: 303, kind: .mixed(0.7, 0.3), scale: 1)
    let (mx, my) = ms.make()
    var runs: [([Double], [Double], [Double], [Double], [Double])] = []
    for threads in [1, 2, 3] {
      try Threads.set(threads)
      let valid = try runSSIM(x, y, shape: pair.shape, options: .init(), reduction: .none, gradient: true,
        mapShape: [1, 2, 390, 370])
      let reflect = try runSSIM(x, y, shape: pair.shape, options: .init(border: .reflect), reduction: .none,
        gradient: true)
      let m = try runMSSSIM(mx, my, shape: ms.shape, reduction: .none, gradient: true)
      runs.append((valid.result.values + valid.result.cs, valid.gradient + valid.map, reflect.gradient,
        reflect.result.perChannel, m.values + m.gradient))
    }
    for r in runs.dropFirst() {
      #expect(r.0 == runs[0].0)
      #expect(r.1 == runs[0].1)
      #expect(r.2 == runs[0].2)
      #expect(r.3 == runs[0].3)
      #expect(r.4 == runs[0].4)
    }
  }
}

@Suite("MS-SSIM layouts")
struct MSSSIMLayoutTests {
  @Test("test_ms_ssim_layouts_bitwise_equal")
  func layouts() throws {
    let pair = TestPair(shape: [2, 2, 21, 26], seed: 304, kind: .mixed(0.7, 0.3), scale: 1)
    let (x, y) = pair.make()
    let options = MSSSIMOptions(ssim: .init(windowSize: 3), weights: [0.3, 0.3, 0.4])
    var results: [([Double], [Double])] = []
    for layout in Layout.allCases {
      var (xb, offset, strides) = layout.store(x, pair.shape)
      var yb = layout.store(y, pair.shape).buffer
      var gb = layout.store([Double](repeating: 0, count: x.count), pair.shape).buffer
      let values = try xb.withUnsafeMutableBufferPointer { xp in
        try yb.withUnsafeMutableBufferPointer { yp in
          try gb.withUnsafeMutableBufferPointer { gp in
            try msSSIM(
              TensorView(name: "x", buffer: xp, offset: offset, shape: pair.shape, strides: strides),
              TensorView(name: "y", buffer: yp, offset: offset, shape: pair.shape, strides: strides),
              options: options, reduction: .none,
              gradient: TensorView(name: "gradient", buffer: gp, offset: offset, shape: pair.shape, strides: strides)
            ).values
          }
        }
      }
      results.append((values, layout.load(gb, pair.shape, offset: offset, strides: strides)))
    }
    for r in results.dropFirst() {
      #expect(r.0 == results[0].0)
      #expect(r.1 == results[0].1)
    }
  }
}
