// Structural similarity (SSIM) of image batches, with its exact gradient.
//
// Implementation goals, in order of priority:
//  1. exact against the float64 reference (Tests/python/reference/
//     ssim_reference.py): inputs are widened to Double and every statistic
//     is accumulated in Double, so float32 and float64 inputs both agree
//     with it to ~1e-14;
//  2. the exact gradient of the returned value, borders, MATLAB
//     downsampling and luma included (SSIMGradient.swift), in the same call;
//  3. bitwise the same result for any thread count and any layout: the
//     work is cut into (plane, band) blocks whose bounds depend on the
//     shape only; each block's sums and gradient rows are computed by the
//     same code wherever it runs, and sums are combined in block order;
//  4. speed: the fused separable kernel of SSIMKernel.swift over bands of
//     rows, in parallel over planes and bands.
//
//   SSIM(x, y) = ((2 mu_x mu_y + C1)(2 sigma_xy + C2))
//                / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
//   (Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
//   assessment: from error visibility to structural similarity", IEEE TIP
//   13(4), 2004), local statistics under the separable window.
//   value of an image = mean over channels of the mean of its SSIM map.

/// What `ssim` returns.
public struct SSIMResult: Sendable {
  /// One value for `.mean` and `.sum`, one per image for `.none`; the value
  /// of an image is the mean over its channels of the per-channel mean SSIM.
  public var values: [Double] { Array(valuesBuffer) }
  /// Mean SSIM of each (image, channel), N x C' values in image-major order
  /// (C' = 1 with luma).
  public var perChannel: [Double] { Array(perChannelBuffer) }
  /// Mean contrast-structure cs of each (image, channel), as `perChannel`;
  /// empty when `ssim` was called with `contrastStructure: false`.
  public var cs: [Double] { Array(csBuffer) }

  /// The same three without a copy (for the C ABI; see `LossValues`).
  package let valuesBuffer: HeapArray<Double>, perChannelBuffer: HeapArray<Double>, csBuffer: HeapArray<Double>

  package init(values: HeapArray<Double>, perChannel: HeapArray<Double>, cs: HeapArray<Double>) {
    valuesBuffer = values
    perChannelBuffer = perChannel
    csBuffer = cs
    values.stopCounting()
    perChannel.stopCounting()
    cs.stopCounting()
  }
}

/// Structural similarity of two batches of images, the mean of the SSIM map
/// per channel, averaged over channels.
///
/// ```
/// SSIM = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
/// C1 = (k1 L)^2, C2 = (k2 L)^2
/// ```
/// The defaults are the reference's (Wang et al. 2004; the MATLAB `ssim.m`
/// without downsampling; scikit-image with `gaussian_weights=True,
/// sigma=1.5, use_sample_covariance=False`). `SSIMOptions` says how to
/// reproduce the other peers.
///
/// Order of operations: luma (`options.luma`), MATLAB downsampling
/// (`options.matlabDownsample`), border, window statistics, map, means.
///
/// - Parameters:
///   - x: logical (N, C, H, W), any strides (NHWC is NCHW with permuted
///     strides); float32 or float64.
///   - y: x's shape.
///   - options: window, constants and conventions; checked by
///     `SSIMOptions.validate()`.
///   - reduction: `.mean` (default) the mean over the N image values,
///     `.sum` their sum, `.none` one value per image.
///   - gradient: if given, x's shape, not overlapping x or y; receives
///     d(returned value)/dx (for `.none`, the gradient of the sum of the
///     image values), borders, downsampling and luma included.
///   - map: if given, (N, C', H', W') with C' = 1 for luma else C, and
///     H' x W' the map size ((H - win + 1) x (W - win + 1) for `.valid`,
///     H x W for the others, after downsampling); receives the SSIM map.
///     Must not overlap x, y or gradient.
///   - contrastStructure: whether to compute the per-channel cs means
///     (`SSIMResult.cs`; empty when false). They cost a division per pixel,
///     about 4% of a forward+backward call; the values and the gradient are
///     the same either way.
/// - Returns: values, per-channel means and per-channel mean cs.
/// - Throws: `.invalidArgument` for bad options; `.rank`,
///   `.shapeMismatch`, `.invalidShape` (luma without 3 channels),
///   `.overlap`; `.tooSmall` when a side is smaller than the window with
///   `.valid` (after downsampling); `.outOfMemory` when scratch cannot be
///   allocated. On a thrown error the gradient and map are unspecified.
/// - Complexity: O(N C H W win) time (separable window); O(bandRows W)
///   scratch per thread, plus O(H W) per plane in flight for the gradient
///   with padded borders or downsampling.
///
/// Mathematical properties (each a test): ssim(x, x) = 1 exactly;
/// ssim(x, y) = ssim(y, x); ssim <= 1; a multichannel value is the mean of
/// the channels' values; a grey image replicated to three channels has the
/// grey image's value.
///
/// Not `@inlinable`: the body dispatches on the element type to code
/// specialised for `Float` and `Double` inside SimLossCore, so callers in
/// other modules (the C ABI) run specialised kernels without inlining them.
public func ssim<T: SimLossFloat>(
  _ x: TensorView<T>, _ y: TensorView<T>, options: SSIMOptions = .init(),
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil, map: TensorView<T>? = nil,
  contrastStructure: Bool = true
) throws -> SSIMResult {
  if T.self == Float.self {
    return try ssimPlanes(
      sameType(x, Float.self), sameType(y, Float.self), options, reduction,
      sameType(gradient, Float.self), sameType(map, Float.self), contrastStructure)
  }
  if T.self == Double.self {
    return try ssimPlanes(
      sameType(x, Double.self), sameType(y, Double.self), options, reduction,
      sameType(gradient, Double.self), sameType(map, Double.self), contrastStructure)
  }
  return try ssimPlanes(x, y, options, reduction, gradient, map, contrastStructure)
}

/// Output rows per band: bands of about 2^17 map pixels and at least 32
/// rows. A function of the shape only, so results never depend on threads.
func ssimBandRows(ho: Int, wo: Int) -> Int {
  let target = 1 << 17
  let bands = max(1, min(ho / 32, (ho * wo + target - 1) / target))
  return (ho + bands - 1) / bands
}

/// The implementation of `ssim`, specialised per element type.
func ssimPlanes<T: SimLossFloat>(
  _ xv: TensorView<T>, _ yv: TensorView<T>, _ options: SSIMOptions, _ reduction: Reduction,
  _ gradient: TensorView<T>?, _ map: TensorView<T>?, _ contrastStructure: Bool
) throws -> SSIMResult {
  try options.validate()
  let input = try SSIMInput(xv, yv, options: options)
  let win = options.windowSize
  let h1 = input.planeHeight, w1 = input.planeWidth
  let border = options.border
  if border == .valid && (h1 < win || w1 < win) {
    throw SimLossError(
      .tooSmall,
      "\(xv.name): shape \(describe(shape: xv.shape)) is too small for border valid: the minimum size is "
        + "\(win) x \(win) for window \(win), got \(input.planeDescription)")
  }
  // Padding of the 'same' borders: (win - 1) / 2 on each side (win is odd).
  let pad = border == .valid ? 0 : (win - 1) / 2
  let geometry = SSIMPlaneGeometry(hp: h1 + 2 * pad, wp: w1 + 2 * pad, win: win)
  let hp = geometry.hp, wp = geometry.wp, ho = geometry.ho, wo = geometry.wo
  try input.checkGradient(gradient, x: xv, y: yv)
  let planesPerImage = input.planesPerImage
  if let map {
    let expected = [input.images, planesPerImage, ho, wo]
    guard map.shape == expected else {
      throw SimLossError(
        .shapeMismatch,
        "\(map.name): shape \(describe(shape: map.shape)) is not the SSIM map shape \(describe(shape: expected))")
    }
    try map.requireWritable()
    try map.requireNoOverlap(with: xv)
    try map.requireNoOverlap(with: yv)
    if let gradient { try map.requireNoOverlap(with: gradient, otherRole: "output") }
  }

  // Where each padded row and column comes from (-1: a zero).
  func sourceIndex(_ i: Int, _ n: Int) -> Int {
    let d = i - pad
    switch border {
    case .valid: return d
    case .reflect: return reflectIndex(d, n)
    case .zero: return (0..<n).contains(d) ? d : -1
    }
  }
  let rowSources = try HeapArray<Int>(zeroed: hp, what: "SSIM: row sources")
  let columnSources = try HeapArray<Int>(zeroed: wp, what: "SSIM: column sources")
  for r in 0..<hp { rowSources[r] = sourceIndex(r, h1) }
  for q in 0..<wp { columnSources[q] = sourceIndex(q, w1) }

  let planes = input.planes
  let bandRows = ssimBandRows(ho: ho, wo: wo)
  let bands = (ho + bandRows - 1) / bandRows
  let wantsGradient = gradient != nil
  // The gradient goes straight to the caller's view when padded rows are
  // input rows; otherwise through a plane of padded-domain rows that a
  // second pass folds back (padding, downsampling).
  let direct = border == .valid && input.downsample == nil
  let kernelCount = try geometry.kernelScratchCount(gradient: wantsGradient)
  let blockScratch = try scratchSum("SSIM", [kernelCount, input.rowScratchCount])
  let planeSize = try scratchCount("SSIM", hp, wp)
  let groupPlanes = wantsGradient && !direct ? max(1, min(planes, (1 << 24) / max(1, planeSize))) : planes

  let tapValues = ssimWindowTaps(options)
  let scale: Double = reduction == .mean ? 1 / Double(input.images) : 1
  let alpha = scale / (Double(planesPerImage) * Double(ho) * Double(wo))
  let gradientIO = gradient.map { PlaneIO($0, luma: options.luma, dataRange: options.dataRange) }
  let mapIO = map.map { PlaneIO($0, luma: false, dataRange: options.dataRange) }
  let sums = try HeapArray<SSIMSums>(zeroed: try scratchCount("SSIM", planes, bands), what: "SSIM: sums per band")
  // Whether phase 2 (below) could not allocate the scratch of a plane.
  let failed = try HeapArray<Bool>(zeroed: planes, what: "SSIM: planes")

  guard let taps = Scratch<Double>.allocate(2 * win) else {
    throw SimLossError(.outOfMemory, "SSIM: cannot allocate \(2 * win) taps")
  }
  defer { taps.release() }
  for k in 0..<win {
    taps.base[k] = tapValues[k]
    taps.base[win + k] = tapValues[win - 1 - k]
  }
  let constants = SSIMConstants(
    c1: options.c1, c2: options.c2, kappa: options.covarianceScale, win: win,
    taps: taps.base, reversed: taps.base + win)

  var groupStart = 0
  while groupStart < planes {
    let group = min(groupPlanes, planes - groupStart)
    var gradientPlanes: Scratch<Double>? = nil
    if wantsGradient && !direct {
      guard let g = Scratch<Double>.allocate(try scratchCount("SSIM", group, planeSize)) else {
        throw SimLossError(.outOfMemory, "SSIM: cannot allocate gradient planes of \(group) x \(hp) x \(wp)")
      }
      gradientPlanes = g
    }
    defer { gradientPlanes?.release() }
    let gradientBase = gradientPlanes?.base
    let base = groupStart

    // Phase 1: (plane, band) blocks.
    // Scratch not zeroed: the kernel and the row readers write every
    // element before they read it.
    try forEachBlock(group * bands, doubles: blockScratch, ints: geometry.kernelSlotCount, what: "SSIM") {
      block, scratch, slots in
      let p = base + block / bands, b = block % bands
      let n = p / planesPerImage, c = p % planesPerImage
      let i0 = b * bandRows, i1 = min(ho, i0 + bandRows)
      let gradientRows = wantsGradient ? i0..<(b == bands - 1 ? hp : i1) : 0..<0
      let rowScratch = scratch + kernelCount
      let level = rowScratch + 2 * input.width
      // Padded row r of one input: a zero row, an input row, or a
      // (downsampled) row with its columns padded.
      func paddedRow(_ source: PlaneIO<T>, _ r: Int, _ dst: UnsafeMutablePointer<Double>) {
        let d = rowSources[r]
        if d < 0 {
          dst.update(repeating: 0, count: wp)
        } else if direct {
          source.readRow(n: n, c: c, h: d, into: dst)
        } else {
          input.row(of: source, n: n, c: c, h: d, into: level, buffers: rowScratch)
          let columns = columnSources.base
          for q in 0..<wp {
            let s = columns[q]
            dst[q] = s >= 0 ? level[s] : 0
          }
        }
      }
      sums[p * bands + b] = ssimBand(
        geometry, constants,
        loadRow: { r, xd, yd in
          paddedRow(input.x, r, xd)
          paddedRow(input.y, r, yd)
          return (UnsafePointer(xd), UnsafePointer(yd))
        },
        sumRows: i0..<i1, needs: contrastStructure ? .both : .ssimOnly, writesMap: mapIO != nil,
        mapRow: { i, values in mapIO!.writeRow(n: n, c: c, h: i, from: values) },
        gradientRows: gradientRows, target: .ssim, gradientScale: alpha,
        scratch: scratch, slots: slots,
        gradientRow: { r, g in
          if direct {
            gradientIO!.writeRow(n: n, c: c, h: r, from: g)
          } else {
            (gradientBase! + ((p - base) * hp + r) * wp).update(from: g, count: wp)
          }
        })
    }

    // Phase 2: fold the padded-domain gradient back to the input, one
    // plane per block.
    if let gradientBase, let gradientIO {
      let foldCount = border == .valid ? 0 : h1 * w1
      let inputCount = input.downsample == nil ? 0 : input.height * input.width + input.width
      forEachBlock(group) { k in
        let p = base + k
        let g = gradientBase + k * planeSize
        guard let scratch = Scratch<Double>.allocate(foldCount + inputCount) else {
          failed[p] = true
          return
        }
        defer { scratch.release() }
        var level = UnsafeMutablePointer(mutating: g)
        if border != .valid {
          level = scratch.base
          for r in 0..<hp {
            let d = rowSources[r]
            if d < 0 { continue }
            let src = g + r * wp, dst = level + d * w1
            for q in 0..<wp {
              let s = columnSources[q]
              if s >= 0 { dst[s] += src[q] }
            }
          }
        }
        var full = level
        if let d = input.downsample {
          full = scratch.base + foldCount
          d.transpose(level, stride: d.outWidth, into: full, rowBuffer: full + input.height * input.width)
        }
        input.writeGradient(gradientIO, n: p / planesPerImage, c: p % planesPerImage, full)
      }
      if failed.contains(true) {
        throw SimLossError(.outOfMemory, "SSIM: cannot allocate scratch to fold the gradient of a plane")
      }
    }
    groupStart += group
  }

  // Means: per plane, bands in order; per image, channels in order.
  let count = Double(ho) * Double(wo)
  let perChannel = try HeapArray<Double>(zeroed: planes, what: "SSIM: one value per channel")
  let cs = try HeapArray<Double>(zeroed: contrastStructure ? planes : 0, what: "SSIM: one cs per channel")
  for p in 0..<planes {
    var s = 0.0, c = 0.0
    for b in 0..<bands {
      s += sums[p * bands + b].ssim
      c += sums[p * bands + b].cs
    }
    perChannel[p] = s / count
    if contrastStructure { cs[p] = c / count }
  }
  let values = try imageMeans(perChannel, images: input.images, planesPerImage: planesPerImage, reduction, "SSIM")
  return SSIMResult(values: values, perChannel: perChannel, cs: cs)
}

/// The value of each image, the mean of its `planesPerImage` per-channel
/// values (channels in order), reduced over the images.
func imageMeans(
  _ perChannel: HeapArray<Double>, images: Int, planesPerImage: Int, _ reduction: Reduction, _ what: String
) throws -> HeapArray<Double> {
  let imageValues = try HeapArray<Double>(zeroed: images, what: "\(what): one value per image")
  for n in 0..<images {
    var total = 0.0
    for c in 0..<planesPerImage { total += perChannel[n * planesPerImage + c] }
    imageValues[n] = total / Double(planesPerImage)
  }
  switch reduction {
  case .mean: return try LossValues(one: imageValues.reduce(0, +) / Double(images)).buffer
  case .sum: return try LossValues(one: imageValues.reduce(0, +)).buffer
  case .none: return imageValues
  }
}
