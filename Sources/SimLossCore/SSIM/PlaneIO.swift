import CSystemShims

// Moving (image, channel) planes between the caller's strided views and the
// Double rows the SSIM kernels work on; the BT.601 luma and its transpose.
//
// Implementation goals, in order of priority: inputs are widened to Double
// exactly (a float32 value is representable), so that everything after this
// point is the same computation for float32 and float64; any layout (NCHW,
// NHWC, negative or padded strides) gives the same Double rows, so results
// are bitwise independent of the layout; unit-stride rows get their own
// loop, which the compiler vectorises; reading or writing row h asks for
// row h + 4 to be prefetched (below).
//
//   luma (ITU-R BT.601 Y as MATLAB rgb2ycbcr, for R, G, B in [0, L]):
//     Y = (16 / 255) L + (65.481 R + 128.553 G + 24.966 B) / 255
//   its transpose: dR = (65.481 / 255) dY, dG = (128.553 / 255) dY,
//     dB = (24.966 / 255) dY

/// How many rows ahead of the row it reads `PlaneIO.readRow` prefetches.
///
/// SSIM reads its input a row at a time between long stretches of
/// arithmetic, and every row is a burst of misses that the hardware
/// prefetcher does not run ahead of: reading the input took 11% of SSIM's
/// forward pass on 1x3x512x512 (3.98 -> 3.52 ms when the reads were
/// skipped). Prefetching the row 4 ahead into L2 as each row is read cut
/// the pass by 6-8% on one thread (4.11-4.27 -> 3.79-3.94 ms, builds
/// alternating); 8 ahead, or into L3, did no better.
let prefetchRowsAhead = 4

/// dY/dR, dY/dG, dY/dB of the BT.601 luma.
let lumaWeights: (Double, Double, Double) = (65.481 / 255, 128.553 / 255, 24.966 / 255)

/// Reads and writes rows of the (n, c) planes of one (N, C, H, W) view.
/// With `luma`, plane (n, 0) is the luma of channels 0, 1, 2 of image n.
struct PlaneIO<T: SimLossFloat> {
  let view: TensorView<T>
  let luma: Bool
  /// (16 / 255) L: the luma offset.
  let lumaOffset: Double

  init(_ view: TensorView<T>, luma: Bool, dataRange: Double) {
    self.view = view
    self.luma = luma
    self.lumaOffset = (16.0 / 255.0) * dataRange
  }

  var width: Int { view.shape[3] }

  @inline(__always)
  func rowStart(_ n: Int, _ c: Int, _ h: Int) -> UnsafeMutablePointer<T> {
    view.origin + (n &* view.strides[0] &+ c &* view.strides[1] &+ h &* view.strides[2])
  }

  /// Asks for the cache lines of row h of plane (n, c) of the view (not
  /// its luma) to be prefetched, for reading or for `write`, if that row
  /// exists.
  @inline(__always)
  func prefetchRow(n: Int, c: Int, h: Int, write: Bool = false) {
    guard h < view.shape[2] else { return }
    @inline(__always) func prefetch(_ p: UnsafeRawPointer) {
      if write { simloss_prefetch_write(p) } else { simloss_prefetch(p) }
    }
    let start = UnsafeRawPointer(rowStart(n, c, h))
    // A dimension of one element may carry any stride (the view's reach
    // never multiplies it), so it is not used; for wider rows the view's
    // validation bounds (width - 1) * stride by the buffer, so nothing
    // below can wrap.
    guard width > 1 else {
      prefetch(start)
      return
    }
    let size = MemoryLayout<T>.stride, step = view.strides[3] &* size
    if step >= -64 && step <= 64 {
      // Every line of the row's span, whichever way it runs.
      let span = (width &- 1) &* step
      let low = span < 0 ? start + span : start
      let bytes = (span < 0 ? 0 &- span : span) &+ size
      var b = 0
      while b < bytes {
        prefetch(low + b)
        b &+= 64
      }
    } else {
      for i in 0..<width { prefetch(start + i &* step) }
    }
  }

  /// Row h of plane (n, c), widened to Double, into out[0 ..< W]; prefetches
  /// the row `prefetchRowsAhead` below it.
  func readRow(n: Int, c: Int, h: Int, into out: UnsafeMutablePointer<Double>) {
    let w = width, s = view.strides[3]
    if !luma {
      prefetchRow(n: n, c: c, h: h &+ prefetchRowsAhead)
      let p = rowStart(n, c, h)
      if s == 1 {
        for i in 0..<w { out[i] = p[i].asDouble }
      } else {
        for i in 0..<w { out[i] = p[i &* s].asDouble }
      }
      return
    }
    for channel in 0..<3 { prefetchRow(n: n, c: channel, h: h &+ prefetchRowsAhead) }
    let r = rowStart(n, 0, h), g = rowStart(n, 1, h), b = rowStart(n, 2, h)
    let offset = lumaOffset
    @inline(__always)
    func y(_ rv: Double, _ gv: Double, _ bv: Double) -> Double {
      offset + (65.481 * rv + 128.553 * gv + 24.966 * bv) / 255.0
    }
    if s == 1 {
      for i in 0..<w { out[i] = y(r[i].asDouble, g[i].asDouble, b[i].asDouble) }
    } else {
      for i in 0..<w { out[i] = y(r[i &* s].asDouble, g[i &* s].asDouble, b[i &* s].asDouble) }
    }
  }

  /// Stores src[0 ..< W] to row h of plane (n, c): of channel c, or, with
  /// `luma`, through the luma transpose to channels 0, 1, 2; prefetches the
  /// row `prefetchRowsAhead` below it for writing (SSIM forward+backward
  /// 8x3x256x256, one thread: 15.21 -> 14.82 ms; the haswell build's hint
  /// is the read hint, see system_shims.h).
  func writeRow(n: Int, c: Int, h: Int, from src: UnsafePointer<Double>) {
    let w = width, s = view.strides[3]
    if !luma {
      prefetchRow(n: n, c: c, h: h &+ prefetchRowsAhead, write: true)
      let p = rowStart(n, c, h)
      if s == 1 {
        for i in 0..<w { p[i] = T(src[i]) }
      } else {
        for i in 0..<w { p[i &* s] = T(src[i]) }
      }
      return
    }
    let (wr, wg, wb) = lumaWeights
    for channel in 0..<3 { prefetchRow(n: n, c: channel, h: h &+ prefetchRowsAhead, write: true) }
    let r = rowStart(n, 0, h), g = rowStart(n, 1, h), b = rowStart(n, 2, h)
    if s == 1 {
      for i in 0..<w {
        r[i] = T(wr * src[i])
        g[i] = T(wg * src[i])
        b[i] = T(wb * src[i])
      }
    } else {
      for i in 0..<w {
        r[i &* s] = T(wr * src[i])
        g[i &* s] = T(wg * src[i])
        b[i &* s] = T(wb * src[i])
      }
    }
  }
}
