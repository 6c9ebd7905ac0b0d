import RealModule

// Multi-scale structural similarity (MS-SSIM), with its exact gradient.
//
// Implementation goals, in order of priority:
//  1. exact against the float64 reference (Tests/python/reference/
//     ssim_reference.py, `ms_ssim`), odd sizes included (the pyramid rounds
//     up, mirror-padding an odd side at its end, as MATLAB msssim.m and
//     TensorFlow);
//  2. the exact gradient of the returned value through every level and the
//     pyramid, and never NaN or infinite with relu: a term below `floor` is
//     clamped to it before the fractional power;
//  3. bitwise the same for any thread count and layout: every level in
//     bands of rows fixed by its shape (one band unless the level is
//     large), their sums added in band order, each computed by the same
//     code wherever it runs;
//  4. speed: the fused SSIM kernel at every level, each level's gradient
//     computed in the same sweep as its statistics (unscaled, then scaled
//     once the product is known), the pyramid transposed once; threads
//     over planes, over the bands of every large level and over the rows
//     of the final gradient, so that one large image uses them all.
//
//   MS-SSIM = prod_{j<M} cs_j^{w_j} * ssim_M^{w_M}
//   (Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multi-scale structural
//   similarity for image quality assessment", Asilomar 2003), cs_j and
//   ssim_M the means of the valid-region maps at level j, level j + 1 the
//   2 x 2 mean of level j; with relu each term t is replaced by
//   max(t, floor) first. value of an image = mean over channels.

/// The parameters of `msSSIM`.
public struct MSSSIMOptions: Sendable, Equatable {
  /// The SSIM of each level. `border` must be `.valid` (the levels' maps
  /// are the valid region, as in the reference and every peer);
  /// `gaussian`, `sampleCovariance`, `luma` and `matlabDownsample` are
  /// honoured (luma and the ssim.m downsampling apply once, to the
  /// full-resolution images, before the pyramid; neither is part of the
  /// 2003 algorithm).
  public var ssim: SSIMOptions
  /// w_1 ... w_M, one level each, used as given (not renormalised); each
  /// finite; 1 ... `MSSSIMOptions.maximumLevels` of them. Default: the
  /// weights of Wang et al. 2003 (Table 1; MATLAB msssim.m).
  public var weights: [Double]
  /// Replace each term t by max(t, floor) before its power (TensorFlow,
  /// pytorch-msssim, piq apply max(t, 0)). Without relu a negative term
  /// with a fractional weight gives NaN, as in the reference.
  public var relu: Bool
  /// The clamp of relu, in [0, 1). With the default 1e-6 the power and its
  /// derivative stay finite (w t^(w-1) <= w floor^(w-1)), which removes the
  /// NaN-in-training failure of relu followed by a fractional power; the
  /// value differs from the peers' max(t, 0) only when a term is below
  /// 1e-6. 0 reproduces the peers exactly (a term <= 0 makes the value 0
  /// and its own derivative 0).
  public var floor: Double

  /// (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).
  public static var defaultWeights: [Double] { [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] }

  /// The most levels accepted, 16.
  public static var maximumLevels: Int { 16 }

  public init(
    ssim: SSIMOptions = .init(), weights: [Double] = MSSSIMOptions.defaultWeights,
    relu: Bool = true, floor: Double = 1e-6
  ) {
    self.ssim = ssim
    self.weights = weights
    self.relu = relu
    self.floor = floor
  }

  /// Throws `.invalidArgument` naming the first option out of its range.
  public func validate() throws {
    try ssim.validate()
    guard ssim.border == .valid else {
      throw SimLossError(
        .invalidArgument, "border: MS-SSIM uses the valid region at every level; border must be valid, got \(ssim.border)")
    }
    guard (1...Self.maximumLevels).contains(weights.count) else {
      throw SimLossError(
        .invalidArgument, "weights: \(weights.count) levels is outside 1...\(Self.maximumLevels)")
    }
    if let bad = weights.firstIndex(where: { !$0.isFinite }) {
      throw SimLossError(.invalidArgument, "weights: weight \(bad) is \(weights[bad]); weights must be finite")
    }
    guard floor >= 0, floor < 1 else {
      throw SimLossError(.invalidArgument, "floor: \(floor) must be in [0, 1)")
    }
  }
}

/// The smallest side whose coarsest pyramid level still holds the window:
/// (windowSize - 1) 2^(levels - 1) + 1 under the round-up rule n -> ceil(n / 2)
/// (161 for window 11 and 5 levels). Values below 1 count as 1; the result
/// saturates at `Int.max`. Applies after luma and MATLAB downsampling.
public func msSSIMMinimumSide(windowSize: Int, levels: Int) -> Int {
  let win = max(1, windowSize), levels = max(1, levels)
  guard levels - 1 < Int.bitWidth - 1 else { return win == 1 ? 1 : Int.max }
  let (product, overflow) = (win - 1).multipliedReportingOverflow(by: 1 << (levels - 1))
  return overflow || product == Int.max ? Int.max : product + 1
}

/// The sides of levels 1 ... levels: n, ceil(n/2), ceil(n/4), ...
func msSSIMLevelSides(_ side: Int, levels: Int) -> [Int] {
  var sides = [side]
  for _ in 1..<max(1, levels) { sides.append(halvedSide(sides[sides.count - 1])) }
  return sides
}

/// Multi-scale structural similarity of two batches of images: per
/// channel, prod_{j<M} cs_j^{w_j} * ssim_M^{w_M} over a 2 x 2 mean pyramid;
/// per image, the mean over channels.
///
/// ```
/// MS-SSIM = prod_{j<M} max(cs_j, floor)^{w_j} * max(ssim_M, floor)^{w_M}   (relu)
/// ```
/// The default is the reference of Wang et al. 2003 (5 levels, Gaussian
/// 11 x 11 window, sigma 1.5, valid region; between levels a 2 x 2 mean with
/// an odd side mirror-padded at its end, as MATLAB msssim.m and TensorFlow)
/// with TensorFlow's relu; `floor` = 0 matches TensorFlow and pytorch-msssim
/// exactly (pytorch-msssim zero-pads odd sides instead, and torchmetrics
/// floors them: both give other numbers on odd sizes).
///
/// - Parameters:
///   - x: logical (N, C, H, W), any strides; float32 or float64. Both sides
///     (after luma and MATLAB downsampling) must be at least
///     `msSSIMMinimumSide(windowSize:levels:)` (161 by default).
///   - y: x's shape.
///   - options: see `MSSSIMOptions`.
///   - reduction: `.mean` (default) over the N image values, `.sum`,
///     `.none` one per image.
///   - gradient: if given, x's shape, not overlapping x or y; receives
///     d(returned value)/dx (for `.none`, of the sum of the image values).
/// - Returns: one value, or N for `.none`.
/// - Throws: `.invalidArgument` for bad options; `.rank`,
///   `.shapeMismatch`, `.invalidShape`, `.overlap`; `.tooSmall` when the
///   coarsest level is smaller than the window; `.outOfMemory`. On a thrown
///   error the gradient is unspecified.
/// - Complexity: O(N C H W win) time; O(H W) scratch per plane in flight
///   (level 1's gradient and level 2, in Double).
///
/// Mathematical properties (each a test): msSSIM(x, x) = 1 exactly;
/// symmetric in x and y; <= 1.
public func msSSIM<T: SimLossFloat>(
  _ x: TensorView<T>, _ y: TensorView<T>, options: MSSSIMOptions = .init(),
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> LossValues {
  if T.self == Float.self {
    return try msSSIMPlanes(
      sameType(x, Float.self), sameType(y, Float.self), options, reduction, sameType(gradient, Float.self))
  }
  if T.self == Double.self {
    return try msSSIMPlanes(
      sameType(x, Double.self), sameType(y, Double.self), options, reduction, sameType(gradient, Double.self))
  }
  return try msSSIMPlanes(x, y, options, reduction, gradient)
}

/// The implementation of `msSSIM`, specialised per element type.
func msSSIMPlanes<T: SimLossFloat>(
  _ xv: TensorView<T>, _ yv: TensorView<T>, _ options: MSSSIMOptions, _ reduction: Reduction,
  _ gradient: TensorView<T>?
) throws -> LossValues {
  try options.validate()
  let ssimOptions = options.ssim
  let input = try SSIMInput(xv, yv, options: ssimOptions)
  let win = ssimOptions.windowSize
  let weights = options.weights
  let levels = weights.count
  let heights = msSSIMLevelSides(input.planeHeight, levels: levels)
  let widths = msSSIMLevelSides(input.planeWidth, levels: levels)
  guard heights[levels - 1] >= win, widths[levels - 1] >= win else {
    throw SimLossError(
      .tooSmall,
      "\(xv.name): shape \(describe(shape: xv.shape)) is too small for MS-SSIM with \(levels) levels and window "
        + "\(win): the minimum size is \(msSSIMMinimumSide(windowSize: win, levels: levels)) on both sides "
        + "(simloss_ms_ssim_min_side() in C, msSSIMMinimumSide in Swift), got \(input.planeDescription); the coarsest level would be "
        + "\(heights[levels - 1]) x \(widths[levels - 1])")
  }
  try input.checkGradient(gradient, x: xv, y: yv)
  let wantsGradient = gradient != nil

  // Level 1, the largest by far, runs in bands of rows (as SSIM), which
  // read their input rows straight from x and y and leave, per plane,
  // level 1's unscaled gradient and level 2 in buffers shared by the
  // plane's bands. A plane of one band (256 x 256) is then done start to
  // finish by the thread that did its band, while its data is in cache. A
  // banded plane's coarser levels run once every band of its group is done,
  // each level as large as a banded level 1 in bands on every thread, and
  // so does the writing of its gradient: so MS-SSIM uses every thread on a
  // single large image, at every level that is worth it.
  let geometries = (0..<levels).map { SSIMPlaneGeometry(hp: heights[$0], wp: widths[$0], win: win) }
  let g0 = geometries[0]
  // Bands of an even number of rows, so that each pair of rows level 2 is
  // made of lies in one band.
  let bandRows = (ssimBandRows(ho: g0.ho, wo: g0.wo) + 1) & ~1
  let bands = (g0.ho + bandRows - 1) / bandRows

  // Each level's unscaled gradient is gathered by the kernel in place
  // (`gradientInto`), in rows of roundUp8(wp) values.
  let gradientStrides = widths.map(roundUp8)
  // Per plane, shared by its bands: level 2 (x then y, rows padded to the
  // kernel stride) and level 1's gradient (hp rows), in a buffer per group
  // of planes; or, when a plane is a single band, in the scratch of the
  // thread that does it all, which stays in cache from plane to plane (a
  // buffer per plane made 4x3x256x256 5% slower).
  let levelTwoCount = levels > 1 ? try scratchCount("MS-SSIM", 2, heights[1], geometries[1].stride) : 0
  let planeGradientOffset = roundUp8(levelTwoCount)
  let planeGradientCount = wantsGradient ? try scratchCount("MS-SSIM", g0.hp, gradientStrides[0]) : 0
  let perPlane = roundUp8(try scratchSum("MS-SSIM", [planeGradientOffset, planeGradientCount]))
  let local = bands == 1
  let planes = input.planes
  let groupPlanes = local ? planes : max(1, min(planes, (1 << 24) / max(1, perPlane)))

  // Per thread, for a band: the kernel's scratch, input conversion
  // buffers, and x and y rows of each parity (level 2 is halved from a
  // pair of rows: loaded into rows of their own, the even one is still
  // there when the odd one comes; copying it aside took 1% of
  // 4x3x256x256). For a plane's coarser levels (in the same memory once
  // the plane's band is done, or in a block of its own for banded
  // planes): levels 3 and down of the pyramid, the unscaled gradient of
  // levels 2 and down, the kernel's scratch for level 2 (for its bands run
  // one after another), and the MATLAB transpose.
  let bandKernelCount = try g0.kernelScratchCount(gradient: wantsGradient)
  let bandRowOffset = bandKernelCount
  let rowsOffset = roundUp8(try scratchSum("MS-SSIM", [bandRowOffset, input.rowScratchCount]))
  let bandScratch = try scratchSum("MS-SSIM", [rowsOffset, try scratchCount("MS-SSIM", 4, g0.stride)])
  var pyramidOffsets = [Int](repeating: 0, count: levels), gradientOffsets = [Int](repeating: 0, count: levels)
  var total = 0
  for j in 2..<max(2, levels) {
    pyramidOffsets[j] = total
    total = try scratchSum("MS-SSIM", [total, try scratchCount("MS-SSIM", 2, heights[j], geometries[j].stride)])
  }
  for j in 1..<max(1, levels) where wantsGradient {
    gradientOffsets[j] = total
    total = try scratchSum("MS-SSIM", [total, try scratchCount("MS-SSIM", heights[j], gradientStrides[j])])
  }
  // The kernel's rows 64-byte aligned, as the pyramid's (the block is).
  let kernelOffset = roundUp8(total)
  if levels > 1 {
    total = try scratchSum("MS-SSIM", [kernelOffset, try geometries[1].kernelScratchCount(gradient: wantsGradient)])
  }
  let transposeOffset = total
  if wantsGradient && input.downsample != nil {
    total = try scratchSum("MS-SSIM", [total, try scratchCount("MS-SSIM", input.height + 1, input.width)])
  }
  let localOffset = roundUp8(max(bandScratch, total))
  let blockScratch = local ? try scratchSum("MS-SSIM", [localOffset, perPlane]) : localOffset

  let tapValues = ssimWindowTaps(ssimOptions)
  guard let taps = Scratch<Double>.allocate(2 * win) else {
    throw SimLossError(.outOfMemory, "MS-SSIM: cannot allocate \(2 * win) taps")
  }
  defer { taps.release() }
  for k in 0..<win {
    taps.base[k] = tapValues[k]
    taps.base[win + k] = tapValues[win - 1 - k]
  }
  let constants = SSIMConstants(
    c1: ssimOptions.c1, c2: ssimOptions.c2, kappa: ssimOptions.covarianceScale, win: win,
    taps: taps.base, reversed: taps.base + win)
  let planesPerImage = input.planesPerImage
  let scale: Double = reduction == .mean ? 1 / Double(input.images) : 1
  let outer = scale / Double(planesPerImage)
  let gradientIO = gradient.map { PlaneIO($0, luma: ssimOptions.luma, dataRange: ssimOptions.dataRange) }
  let relu = options.relu, floor = options.floor
  // Level 1's term is cs, or SSIM when it is the only level.
  let firstNeeds: SSIMSumsNeeded = levels == 1 ? .ssimOnly : .csOnly
  let firstTarget: SSIMGradientTarget = levels == 1 ? .ssim : .cs

  let planeValues = try HeapArray<Double>(zeroed: planes, what: "MS-SSIM: one value per channel")
  let bandSums = try HeapArray<SSIMSums>(zeroed: try scratchCount("MS-SSIM", planes, bands), what: "MS-SSIM: sums per band")
  let valuesOut = planeValues.base, sumsOut = bandSums.base
  var groupStart = 0
  while groupStart < planes {
    let group = min(groupPlanes, planes - groupStart)
    var shared: Scratch<Double>? = nil
    if !local {
      guard let buffer = Scratch<Double>.allocateUninitialized(try scratchCount("MS-SSIM", group, perPlane)) else {
        throw SimLossError(
          .outOfMemory, "MS-SSIM: cannot allocate \(group) x \(perPlane) Doubles of level 1 gradient and level 2")
      }
      shared = buffer
    }
    defer { shared?.release() }
    let sharedBase = shared?.base
    let base = groupStart
    // A plane's coarser levels, value and gradient, once its level 1
    // is done, in `s` (a block's scratch layout) with `slots`.
    func finishPlane(_ k: Int, _ s: UnsafeMutablePointer<Double>, _ slots: UnsafeMutablePointer<Int>) {
      let p = base + k
      let n = p / planesPerImage, c = p % planesPerImage
      let levelTwo = local ? s + localOffset : sharedBase! + k * perPlane
      let planeGradient = levelTwo + planeGradientOffset
      var first = 0.0
      for band in 0..<bands { first += levels == 1 ? sumsOut[p * bands + band].ssim : sumsOut[p * bands + band].cs }
      var terms = [Double](repeating: 0, count: levels)
      terms[0] = first / (Double(g0.ho) * Double(g0.wo))
      @inline(__always)
      func xLevel(_ j: Int) -> UnsafeMutablePointer<Double> { j == 1 ? levelTwo : s + pyramidOffsets[j] }
      @inline(__always)
      func yLevel(_ j: Int) -> UnsafeMutablePointer<Double> { xLevel(j) + heights[j] * geometries[j].stride }
      for j in 1..<max(1, levels) {
        let g = geometries[j]
        if j > 1 {
          let prev = geometries[j - 1]
          halve(xLevel(j - 1), height: prev.hp, width: prev.wp, srcStride: prev.stride, into: xLevel(j), dstStride: g.stride)
          halve(yLevel(j - 1), height: prev.hp, width: prev.wp, srcStride: prev.stride, into: yLevel(j), dstStride: g.stride)
        }
        zeroPadding(xLevel(j), height: g.hp, width: g.wp, stride: g.stride)
        zeroPadding(yLevel(j), height: g.hp, width: g.wp, stride: g.stride)
        let last = j == levels - 1
        let levelGradient = s + gradientOffsets[j]
        let xs = xLevel(j), ys = yLevel(j)
        // A level as large as a banded level 1 runs in bands too, on
        // every thread (this one waits for them): otherwise a single
        // large image's level 2 ran on one thread while the others
        // idled. The bands depend on the shape only.
        let levelBandRows = ssimBandRows(ho: g.ho, wo: g.wo)
        let levelBands = (g.ho + levelBandRows - 1) / levelBandRows
        func levelBand(_ b: Int, _ kernel: UnsafeMutablePointer<Double>, _ kernelSlots: UnsafeMutablePointer<Int>)
          -> SSIMSums
        {
          let i0 = b * levelBandRows, i1 = min(g.ho, i0 + levelBandRows)
          return ssimBand(
            g, constants,
            loadRow: { r, _, _ in (UnsafePointer(xs + r * g.stride), UnsafePointer(ys + r * g.stride)) },
            sumRows: i0..<i1, needs: last ? .ssimOnly : .csOnly, writesMap: false, mapRow: { _, _ in },
            gradientRows: wantsGradient ? i0..<(b == levelBands - 1 ? g.hp : i1) : 0..<0,
            target: last ? .ssim : .cs, gradientScale: 1, scratch: kernel, slots: kernelSlots,
            gradientRow: { _, _ in }, gradientInto: { r in levelGradient + r &* gradientStrides[j] })
        }
        var levelSums = [SSIMSums](repeating: SSIMSums(), count: levelBands)
        levelSums.withUnsafeMutableBufferPointer { out in
          // Without the scratch for other threads, the bands run here,
          // one after another, with the same results.
          if levelBands > 1,
            (try? forEachBlock(
              levelBands, doubles: g.kernelScratchCount(gradient: wantsGradient), ints: g.kernelSlotCount,
              what: "MS-SSIM", { b, kernel, kernelSlots in out[b] = levelBand(b, kernel, kernelSlots) })) != nil
          {
            return
          }
          for b in 0..<levelBands { out[b] = levelBand(b, s + kernelOffset, slots) }
        }
        var levelTotal = 0.0
        for b in 0..<levelBands { levelTotal += last ? levelSums[b].ssim : levelSums[b].cs }
        terms[j] = levelTotal / (Double(g.ho) * Double(g.wo))
      }
      let clamped = terms.map { relu ? max($0, floor) : $0 }
      let powers = (0..<levels).map { Double.pow(clamped[$0], weights[$0]) }
      var value = 1.0
      for j in 0..<levels { value *= powers[j] }
      valuesOut[p] = value
      guard let gradientIO else { return }

      // d value / d term_j = w_j t_j^(w_j - 1) prod_{k != j} t_k^(w_k), 0
      // where relu clamps; each level's gradient is that times the
      // unscaled gradient of its mean, then the pyramid is transposed
      // from the coarsest level down. Level 1's rows are finished one
      // at a time and, without downsampling, written out at once.
      for j in stride(from: levels - 1, through: 0, by: -1) {
        let g = geometries[j]
        var derivative = 0.0
        if !(relu && terms[j] <= floor) {
          derivative = weights[j] * Double.pow(clamped[j], weights[j] - 1)
          for k in 0..<levels where k != j { derivative *= powers[k] }
        }
        let factor = outer * derivative / (Double(g.ho) * Double(g.wo))
        let levelGradient = j == 0 ? planeGradient : s + gradientOffsets[j]
        if j == 0 {
          // Rows are independent: a banded plane's are shared out
          // among the threads, in blocks of its level 1's bands.
          let levelTwoGradient = levels > 1 ? s + gradientOffsets[1] : s  // (unused with one level)
          forEachBlock(bands) { b in
            for r in (b * bandRows)..<(b == bands - 1 ? g.hp : (b + 1) * bandRows) {
              let row = levelGradient + r &* gradientStrides[0]
              if levels > 1 {
                scaleAddHalveTransposeRow(
                  levelTwoGradient, stride: gradientStrides[1], row: r, height: g.hp, width: g.wp, into: row,
                  scale: factor)
              } else {
                for i in 0..<g.wp { row[i] *= factor }
              }
              if input.downsample == nil { gradientIO.writeRow(n: n, c: c, h: r, from: row) }
            }
          }
        } else if j < levels - 1 {
          scaleAddHalveTranspose(
            s + gradientOffsets[j + 1], stride: gradientStrides[j + 1], height: g.hp, width: g.wp,
            into: levelGradient, stride: gradientStrides[j], scale: factor)
        } else {
          for r in 0..<g.hp {
            let row = levelGradient + r &* gradientStrides[j]
            for i in 0..<g.wp { row[i] *= factor }
          }
        }
      }
      if let d = input.downsample {
        let target = s + transposeOffset
        d.transpose(
          planeGradient, stride: gradientStrides[0], into: target, rowBuffer: target + input.height * input.width)
        input.writeGradient(gradientIO, n: n, c: c, target)
      }
    }
    // Scratch not zeroed: every element is written before it is read
    // (the pyramid's padding columns are zeroed below, the kernel
    // zeroes its own), and 64-byte aligned (Scratch.swift).
    try forEachBlock(group * bands, doubles: blockScratch, ints: g0.kernelSlotCount, what: "MS-SSIM") { block, s, slots in
      let k = block / bands, p = base + k, b = block % bands
      let n = p / planesPerImage, c = p % planesPerImage
      let levelTwo = local ? s + localOffset : sharedBase! + k * perPlane
      let planeGradient = levelTwo + planeGradientOffset
      let i0 = b * bandRows, i1 = min(g0.ho, i0 + bandRows)
      // The input rows this band owns: their gradient, and the level 2
      // rows made of them.
      let owned = i0..<(b == bands - 1 ? g0.hp : i1)
      let ws1 = levels > 1 ? geometries[1].stride : 0
      let levelTwoY = levelTwo + (levels > 1 ? heights[1] * ws1 : 0)
      // Rows x, y of even rows, then x, y of odd rows, each g0.stride
      // long; their columns wp ..< stride must read as 0 (ssimBand).
      let rows = s + rowsOffset, ws0 = g0.stride
      for t in 0..<4 { (rows + t &* ws0 + g0.wp).update(repeating: 0, count: ws0 &- g0.wp) }
      let sums = ssimBand(
        g0, constants,
        loadRow: { r, _, _ in
          let xd = rows + (r & 1) &* 2 &* ws0, yd = xd + ws0
          input.row(of: input.x, n: n, c: c, h: r, into: xd, buffers: s + bandRowOffset)
          input.row(of: input.y, n: n, c: c, h: r, into: yd, buffers: s + bandRowOffset)
          // Rows come in increasing order, each once, so row r - 1 of an
          // owned pair is in the even rows.
          if levels > 1 && owned.contains(r & ~1) {
            if r & 1 == 1 {
              halveRow(rows, xd, width: g0.wp, into: levelTwo + (r / 2) * ws1)
              halveRow(rows + ws0, yd, width: g0.wp, into: levelTwoY + (r / 2) * ws1)
            } else if r == g0.hp - 1 {
              halveRow(xd, xd, width: g0.wp, into: levelTwo + (r / 2) * ws1)
              halveRow(yd, yd, width: g0.wp, into: levelTwoY + (r / 2) * ws1)
            }
          }
          return (UnsafePointer(xd), UnsafePointer(yd))
        },
        sumRows: i0..<i1, needs: firstNeeds, writesMap: false, mapRow: { _, _ in },
        gradientRows: wantsGradient ? owned : 0..<0, target: firstTarget, gradientScale: 1,
        scratch: s, slots: slots,
        gradientRow: { _, _ in }, gradientInto: { r in planeGradient + r &* gradientStrides[0] })
      sumsOut[p * bands + b] = sums
      // A plane of one band is finished by the thread that did it,
      // while its data is in cache; a banded plane after every
      // band of the group, below, so that its larger levels can use
      // every thread (and no band need know whether it is the last).
      if local { finishPlane(k, s, slots) }
    }
    if !local {
      // One plane per block, so that a batch's planes finish in
      // parallel; a single plane runs on this thread, and its large
      // levels' bands then spread over every thread (inside a block
      // they would run one after another: a nested forEachBlock runs on
      // its own thread only, WorkerPool being in use).
      try forEachBlock(group, doubles: blockScratch, ints: g0.kernelSlotCount, what: "MS-SSIM") { k, s, slots in
        finishPlane(k, s, slots)
      }
    }
    groupStart += group
  }
  return LossValues(try imageMeans(planeValues, images: input.images, planesPerImage: planesPerImage, reduction, "MS-SSIM"))
}
