// Structural similarity of volumes (N, C, D, H, W) under a 3-D window, with
// its exact gradient: the volumetric SSIM that medical-imaging libraries
// offer next to the 2-D one.
//
// Implementation goals, in order of priority:
//  1. exact against the float64 reference (ssim3d of Tests/python/reference/
//     ssim_reference.py): inputs are widened to Double and every statistic
//     is accumulated in Double, so float32 and float64 inputs both agree
//     with it to ~1e-14; S = (A1 A2) / (B1 B2) is one correctly rounded
//     quotient, so identical volumes give exactly 1;
//  2. the exact gradient of the returned value in the same call: the
//     per-voxel coefficient maps go back through the transpose of the
//     separable 3-D filter (SSIMGradient.swift has the derivation);
//  3. bitwise the same result for any thread count and any layout: one
//     block per (image, channel) volume, computed by the same code wherever
//     it runs; per-volume sums are combined in a fixed order;
//  4. simplicity over speed: plain separable passes along W, H and D
//     (O(win) per voxel and pass), unit-stride inner loops over whole
//     rows or slices, the intermediate moment volumes kept in scratch.
//
//   SSIM(x, y) = ((2 mu_x mu_y + C1)(2 sigma_xy + C2))
//                / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
//   cs(x, y)   = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)
//   (Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, IEEE TIP 13(4),
//   2004), local statistics under the window g (x) g (x) g over D, H, W,
//   valid positions only; sigma_x^2 = kappa (E[x^2] - mu_x^2), kappa =
//   NP / (NP - 1) with NP = win^3 for sample covariance, else 1.
//   value of a volume pair = mean over channels of the mean of its SSIM map.
//
// Scratch per volume in flight (one per thread), in Doubles, with
// Wo = W - win + 1 and Ho = H - win + 1:
//   A: 5 D H Wo   moments after the W pass; later the coefficient maps
//                 (3 Do Ho Wo) and the H-transposed coefficients (3 D H Wo);
//   B: 5 D Ho Wo  moments after the H pass; later the D-transposed
//                 coefficients (3 D Ho Wo);
//   7 Ho Wo + 5 W slice and row buffers.

/// Structural similarity of two batches of volumes under a win x win x win
/// window: the mean of the 3-D SSIM map per channel, averaged over channels.
///
/// ```
/// SSIM = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
/// C1 = (k1 L)^2, C2 = (k2 L)^2
/// ```
/// mu, sigma are weighted means under the separable window g(d) g(h) g(w)
/// (Gaussian, or uniform 1 / win taps), over window positions lying fully
/// inside the volume (the map is (D - win + 1) x (H - win + 1) x
/// (W - win + 1)). This is `ssim3d` of the reference and scikit-image's
/// `structural_similarity` on 3-D input cropped to the valid region (with
/// `sampleCovariance`, NP = win^3).
///
/// - Parameters:
///   - x: logical (N, C, D, H, W), any strides; float32 or float64.
///   - y: x's shape.
///   - options: `dataRange`, `windowSize` (odd; the window is win^3),
///     `sigma`, `gaussian`, `k1`, `k2`, `sampleCovariance` (NP = win^3)
///     are read; `border` must be `.valid`, `luma` and `matlabDownsample`
///     false.
///   - reduction: `.mean` (default) the mean over the N volume values,
///     `.sum` their sum, `.none` one value per volume.
///   - gradient: if given, x's shape, writable, not overlapping x or y;
///     receives d(returned value)/dx (for `.none`, the gradient of the sum
///     of the volume values).
/// - Returns: values, per-(volume, channel) mean SSIM (`perChannel`) and
///   mean cs (`cs`), N x C values in volume-major order.
/// - Throws: `.invalidArgument` for bad options (as `SSIMOptions.validate()`)
///   and for `border` other than `.valid`, `luma` or `matlabDownsample`,
///   naming the option; `.rank` unless rank 5; `.shapeMismatch`;
///   `.tooSmall` when D, H or W < win (the message gives the minimum size);
///   `.overlap` for a gradient sharing memory with x or y or itself;
///   `.outOfMemory` when scratch cannot be allocated. On a thrown error the
///   gradient is unspecified.
/// - Complexity: O(N C D H W win) time (three 1-D passes forward, three
///   transposed passes backward); about 10 D H W Doubles of scratch per
///   volume in flight (one per thread).
///
/// Mathematical properties (each a test): ssim3D(x, x) = 1 exactly;
/// ssim3D(x, y) = ssim3D(y, x) bitwise; the value is the mean of the
/// channels' values; results are bitwise the same for any thread count and
/// any strides.
///
/// Not `@inlinable`: the body dispatches on the element type to code
/// specialised for `Float` and `Double` inside SimLossCore.
public func ssim3D<T: SimLossFloat>(
  _ x: TensorView<T>, _ y: TensorView<T>, options: SSIMOptions = .init(),
  reduction: Reduction = .mean, gradient: TensorView<T>? = nil
) throws -> SSIMResult {
  if T.self == Float.self {
    return try ssim3DVolumes(
      sameType(x, Float.self), sameType(y, Float.self), options, reduction, sameType(gradient, Float.self))
  }
  if T.self == Double.self {
    return try ssim3DVolumes(
      sameType(x, Double.self), sameType(y, Double.self), options, reduction, sameType(gradient, Double.self))
  }
  return try ssim3DVolumes(x, y, options, reduction, gradient)
}

/// Reads and writes rows (along W) of the (n, c, d, h) lines of a rank-5 view.
struct SSIM3DVolumeIO<T: SimLossFloat> {
  let view: TensorView<T>

  @inline(__always)
  func rowStart(_ n: Int, _ c: Int, _ d: Int, _ h: Int) -> UnsafeMutablePointer<T> {
    let s = view.strides
    return view.origin + (n &* s[0] &+ c &* s[1] &+ d &* s[2] &+ h &* s[3])
  }

  /// Row (n, c, d, h) widened to Double, into out[0 ..< W].
  @inline(__always)
  func readRow(_ n: Int, _ c: Int, _ d: Int, _ h: Int, into out: UnsafeMutablePointer<Double>) {
    let w = view.shape[4], s = view.strides[4]
    let p = rowStart(n, c, d, h)
    if s == 1 {
      for i in 0..<w { out[i] = p[i].asDouble }
    } else {
      for i in 0..<w { out[i] = p[i &* s].asDouble }
    }
  }

  /// Stores src[0 ..< W] to row (n, c, d, h), rounded to T.
  @inline(__always)
  func writeRow(_ n: Int, _ c: Int, _ d: Int, _ h: Int, from src: UnsafePointer<Double>) {
    let w = view.shape[4], s = view.strides[4]
    let p = rowStart(n, c, d, h)
    if s == 1 {
      for i in 0..<w { p[i] = T(src[i]) }
    } else {
      for i in 0..<w { p[i &* s] = T(src[i]) }
    }
  }
}

/// The implementation of `ssim3D`, specialised per element type.
func ssim3DVolumes<T: SimLossFloat>(
  _ xv: TensorView<T>, _ yv: TensorView<T>, _ options: SSIMOptions, _ reduction: Reduction,
  _ gradient: TensorView<T>?
) throws -> SSIMResult {
  try options.validate()
  guard options.border == .valid else {
    throw SimLossError(
      .invalidArgument, "border: 3-D SSIM supports only valid, got \(options.border)")
  }
  guard !options.luma else {
    throw SimLossError(
      .invalidArgument, "luma: 3-D SSIM has no luma conversion (it compares each channel); luma must be off")
  }
  guard !options.matlabDownsample else {
    throw SimLossError(
      .invalidArgument,
      "matlab_downsample: 3-D SSIM has no MATLAB ssim.m downsampling; it must be off")
  }
  try xv.requireRank(5, "(N, C, D, H, W)")
  try xv.requireSameShape(as: yv)
  let win = options.windowSize
  let shape = xv.shape
  let images = shape[0], channels = shape[1]
  let depth = shape[2], height = shape[3], width = shape[4]
  guard depth >= win, height >= win, width >= win else {
    throw SimLossError(
      .tooSmall,
      "\(xv.name): shape \(describe(shape: shape)) is too small for 3-D SSIM: the minimum size is "
        + "\(win) x \(win) x \(win) (D x H x W) for window \(win), got \(depth) x \(height) x \(width)")
  }
  if let gradient {
    try xv.requireSameShape(as: gradient)
    try gradient.requireWritable()
    try gradient.requireNoOverlap(with: xv)
    try gradient.requireNoOverlap(with: yv)
  }

  let dOut = depth - win + 1, hOut = height - win + 1, wOut = width - win + 1
  let slice = try scratchCount("SSIM3D", hOut, wOut)
  let mapCount = try scratchCount("SSIM3D", dOut, slice)
  // Moment volumes after the W pass (A) and after the H pass (B).
  let aCount = try scratchCount("SSIM3D", depth, height, wOut)
  let bCount = try scratchCount("SSIM3D", depth, slice)
  let total = try scratchSum(
    "SSIM3D",
    [
      try scratchCount("SSIM3D", 5, aCount), try scratchCount("SSIM3D", 5, bCount),
      try scratchCount("SSIM3D", 7, slice), try scratchCount("SSIM3D", 5, width),
    ])

  let taps = ssimWindowTaps(options)
  let c1 = options.c1, c2 = options.c2
  let kappa: Double
  if options.sampleCovariance {
    let np = Double(win) * Double(win) * Double(win)
    kappa = np / (np - 1)
  } else {
    kappa = 1
  }
  let volumes = images * channels
  let scale: Double = reduction == .mean ? 1 / Double(images) : 1
  let alpha = scale / (Double(channels) * Double(mapCount))
  let xIO = SSIM3DVolumeIO(view: xv), yIO = SSIM3DVolumeIO(view: yv)
  let gradientIO = gradient.map { SSIM3DVolumeIO(view: $0) }

  let perChannel = try HeapArray<Double>(zeroed: volumes, what: "SSIM3D: one value per channel")
  let cs = try HeapArray<Double>(zeroed: volumes, what: "SSIM3D: one cs per channel")
  let failed = try HeapArray<Bool>(zeroed: volumes, what: "SSIM3D: volumes")

  taps.withUnsafeBufferPointer { tapBuffer in
    let g = tapBuffer.baseAddress!
    forEachBlock(volumes) { p in
      guard let scratch = Scratch<Double>.allocate(total) else {
        failed[p] = true
        return
      }
      defer { scratch.release() }
      let n = p / channels, c = p % channels
      let a = scratch.base
      let b = a + 5 &* aCount
      let moments = b + 5 &* bCount  // 5 slices of the D pass
      let sMap = moments + 5 &* slice
      let csMap = sMap + slice
      let rows = csMap + slice  // 5 rows of W
      let xr = rows, yr = rows + width
      let pr = rows + 2 &* width  // 3 product rows, then 3 gradient rows

      // W pass: x, y, x^2, y^2, xy along each row -> A (moment m at
      // a + m aCount, element (d, h, q) at (d H + h) Wo + q).
      for d in 0..<depth {
        for h in 0..<height {
          xIO.readRow(n, c, d, h, into: xr)
          yIO.readRow(n, c, d, h, into: yr)
          for i in 0..<width {
            pr[i] = xr[i] * xr[i]
            pr[width &+ i] = yr[i] * yr[i]
            pr[2 &* width &+ i] = xr[i] * yr[i]
          }
          let row = (d &* height &+ h) &* wOut
          ssim3DFilterRow(xr, taps: g, win: win, count: wOut, into: a + row)
          ssim3DFilterRow(yr, taps: g, win: win, count: wOut, into: a + (aCount &+ row))
          for m in 2..<5 {
            ssim3DFilterRow(
              pr + (m &- 2) &* width, taps: g, win: win, count: wOut, into: a + (m &* aCount &+ row))
          }
        }
      }
      // H pass: A -> B (element (d, i, q) at (d Ho + i) Wo + q).
      for m in 0..<5 {
        let src = a + m &* aCount, dst = b + m &* bCount
        for d in 0..<depth {
          for i in 0..<hOut {
            let out = dst + (d &* hOut &+ i) &* wOut
            let first = src + (d &* height &+ i) &* wOut
            ssim3DGatherTaps(first, step: wOut, taps: g, win: win, count: wOut, into: out)
          }
        }
      }
      // D pass, one output slice at a time, then the maps and the
      // coefficients (into A, free now: a, b, c at a + k mapCount).
      var sSum = 0.0, csSum = 0.0
      for i in 0..<dOut {
        for m in 0..<5 {
          let first = b + (m &* bCount &+ i &* slice)
          ssim3DGatherTaps(first, step: slice, taps: g, win: win, count: slice, into: moments + m &* slice)
        }
        let muX = moments, muY = moments + slice
        let eXX = moments + 2 &* slice, eYY = moments + 3 &* slice, eXY = moments + 4 &* slice
        let coefficients = a + i &* slice
        for j in 0..<slice {
          let mx = muX[j], my = muY[j]
          let sx = kappa * (eXX[j] - mx * mx)
          let sy = kappa * (eYY[j] - my * my)
          let sxy = kappa * (eXY[j] - mx * my)
          let a1 = 2 * mx * my + c1
          let a2 = 2 * sxy + c2
          let b1 = mx * mx + my * my + c1
          let b2 = sx + sy + c2
          let s = (a1 * a2) / (b1 * b2)
          sMap[j] = s
          csMap[j] = a2 / b2
          if gradientIO != nil {
            let dd = b1 * b2
            let dMu = 2 * my * (a2 - kappa * a1) / dd + 2 * mx * s * (kappa / b2 - 1 / b1)
            coefficients[j] = alpha * dMu
            coefficients[mapCount &+ j] = alpha * (-kappa * s / b2)
            coefficients[2 &* mapCount &+ j] = alpha * (2 * kappa * a1 / dd)
          }
        }
        sSum += laneSum(slice) { sMap[$0] }
        csSum += laneSum(slice) { csMap[$0] }
      }
      perChannel[p] = sSum
      cs[p] = csSum

      guard let gradientIO else { return }
      // Backward D pass: coefficients (in A) -> B, 3 volumes D x Ho x Wo.
      let t1 = b
      t1.update(repeating: 0, count: 3 &* bCount)
      for k in 0..<3 {
        let src = a + k &* mapCount, dst = t1 + k &* bCount
        for i in 0..<dOut {
          ssim3DScatterTaps(src + i &* slice, taps: g, win: win, count: slice, step: slice, into: dst + i &* slice)
        }
      }
      // Backward H pass: B -> A, 3 volumes D x H x Wo.
      let t2 = a
      t2.update(repeating: 0, count: 3 &* aCount)
      for k in 0..<3 {
        let src = t1 + k &* bCount, dst = t2 + k &* aCount
        for d in 0..<depth {
          for i in 0..<hOut {
            ssim3DScatterTaps(
              src + (d &* hOut &+ i) &* wOut, taps: g, win: win, count: wOut, step: wOut,
              into: dst + (d &* height &+ i) &* wOut)
          }
        }
      }
      // Backward W pass per row, then G^T a + 2 x G^T b + y G^T c.
      let ga = pr, gb = pr + width, gc = pr + 2 &* width
      for d in 0..<depth {
        for h in 0..<height {
          let row = (d &* height &+ h) &* wOut
          ga.update(repeating: 0, count: 3 &* width)
          ssim3DScatterTaps(t2 + row, taps: g, win: win, count: wOut, step: 1, into: ga)
          ssim3DScatterTaps(t2 + (aCount &+ row), taps: g, win: win, count: wOut, step: 1, into: gb)
          ssim3DScatterTaps(t2 + (2 &* aCount &+ row), taps: g, win: win, count: wOut, step: 1, into: gc)
          xIO.readRow(n, c, d, h, into: xr)
          yIO.readRow(n, c, d, h, into: yr)
          for q in 0..<width {
            xr[q] = ga[q] + 2 * xr[q] * gb[q] + yr[q] * gc[q]
          }
          gradientIO.writeRow(n, c, d, h, from: xr)
        }
      }
    }
  }
  if failed.contains(true) {
    throw SimLossError(.outOfMemory, "SSIM3D: cannot allocate \(total) Doubles of scratch for a volume")
  }

  // Means: per volume; per image, channels in order.
  let count = Double(mapCount)
  for p in 0..<volumes {
    perChannel[p] /= count
    cs[p] /= count
  }
  let values = try imageMeans(perChannel, images: images, planesPerImage: channels, reduction, "SSIM3D")
  return SSIMResult(values: values, perChannel: perChannel, cs: cs)
}

/// Valid correlation of one row: out[q] = sum_k g[k] src[q + k], q in
/// 0 ..< count (src holds count + win - 1 values).
@inline(__always)
func ssim3DFilterRow(
  _ src: UnsafePointer<Double>, taps g: UnsafePointer<Double>, win: Int, count: Int,
  into out: UnsafeMutablePointer<Double>
) {
  ssim3DGatherTaps(src, step: 1, taps: g, win: win, count: count, into: out)
}

/// out[j] = sum_k g[k] first[k step + j], j in 0 ..< count, taps in
/// increasing k: the forward filter along any axis whose neighbours are
/// `step` apart (1 along W, a row along H, a slice along D), with a
/// unit-stride inner loop.
@inline(__always)
func ssim3DGatherTaps(
  _ first: UnsafePointer<Double>, step: Int, taps g: UnsafePointer<Double>, win: Int, count: Int,
  into out: UnsafeMutablePointer<Double>
) {
  let g0 = g[0]
  for j in 0..<count { out[j] = g0 * first[j] }
  var k = 1
  while k < win {
    let gk = g[k], src = first + k &* step
    for j in 0..<count { out[j] += gk * src[j] }
    k &+= 1
  }
}

/// The transpose of `ssim3DGatherTaps`: dst[k step + j] += g[k] src[j] for
/// every tap k (in increasing order) and j in 0 ..< count.
@inline(__always)
func ssim3DScatterTaps(
  _ src: UnsafePointer<Double>, taps g: UnsafePointer<Double>, win: Int, count: Int, step: Int,
  into dst: UnsafeMutablePointer<Double>
) {
  var k = 0
  while k < win {
    let gk = g[k], out = dst + k &* step
    for j in 0..<count { out[j] += gk * src[j] }
    k &+= 1
  }
}
