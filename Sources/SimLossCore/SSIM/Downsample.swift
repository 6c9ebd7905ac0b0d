// Resampling for SSIM and MS-SSIM, with the exact transposes the gradient
// needs; the index maps of the padding conventions.
//
// Implementation goals, in order of priority: the index conventions of the
// reference (Tests/python/reference/ssim_reference.py) exactly; transposes
// that are the exact adjoints of the forward maps (every forward read of a
// sample is a backward write to it, mirrored reads included); a fixed order
// of accumulation, so the gradient is bitwise deterministic.
//
// MATLAB ssim.m (2009) automatic downsampling (Wang's "SSIM Index with
// automatic downsampling, Version 1.0"):
//   f = max(1, round(min(H, W) / 256))  (round half away from zero)
//   img = imfilter(img, ones(f) / f^2, 'symmetric', 'same'); img = img(1:f:end, 1:f:end)
//   out[i] = (1 / f^2) sum_{t, u < f} a[sym(i f - c + t), sym(j f - c + u)],  c = (f - 1) / 2,
//   sym = mirror with the edge repeated (numpy "symmetric"); size ceil(n / f).
// MS-SSIM pyramid step (MATLAB msssim.m, TensorFlow):
//   out[i, j] = (a[2i, 2j] + a[i1, 2j] + a[2i, j1] + a[i1, j1]) / 4,
//   i1 = min(2i + 1, H - 1) (an odd side is mirror-padded at its end), size ceil(n / 2).

/// Index of padded position i in a side of n samples under numpy
/// `mode="reflect"` (edge not repeated), for any distance from the side.
@inline(__always)
func reflectIndex(_ i: Int, _ n: Int) -> Int {
  if n == 1 { return 0 }
  let period = 2 &* (n &- 1)
  var m = i % period
  if m < 0 { m &+= period }
  return m < n ? m : period &- m
}

/// Index of padded position i under numpy `mode="symmetric"` (edge
/// repeated), for any distance from the side.
@inline(__always)
func symmetricIndex(_ i: Int, _ n: Int) -> Int {
  let period = 2 &* n
  var m = i % period
  if m < 0 { m &+= period }
  return m < n ? m : period &- 1 &- m
}

/// f = max(1, round(min(H, W) / 256)) with MATLAB's round: floor((m + 128) / 256).
func matlabDownsampleFactor(height: Int, width: Int) -> Int {
  // (m + 128) / 256, which overflows for m near Int.max (a shape given to
  // simloss_ssim_map_shape, not a tensor's).
  let m = min(height, width)
  return max(1, m / 256 + (m % 256 >= 128 ? 1 : 0))
}

/// ceil(n / f) for n >= 0 and f >= 1, without the overflow of
/// (n + f - 1) / f near Int.max.
func ceilingDivision(_ n: Int, _ f: Int) -> Int {
  n / f + (n % f == 0 ? 0 : 1)
}

/// The ssim.m downsampling of an H x W plane by f, and its transpose.
struct MatlabDownsample {
  let f: Int
  /// c = (f - 1) / 2, the samples of padding before each box.
  let shift: Int
  let height: Int, width: Int
  let outHeight: Int, outWidth: Int
  /// sources[j * f + u] = sym(j f - c + u, W): the columns of output column j.
  let sources: HeapArray<Int>

  /// - Throws: `.outOfMemory` when the column table (one Int per input
  ///   column, rounded up to a multiple of f) cannot be allocated: a
  ///   broadcast row may be longer than memory.
  init(height: Int, width: Int, f: Int) throws {
    self.f = f
    self.shift = (f - 1) / 2
    self.height = height
    self.width = width
    self.outHeight = ceilingDivision(height, f)
    self.outWidth = ceilingDivision(width, f)
    let sources = try HeapArray<Int>(
      zeroed: try scratchCount("SSIM downsampling", outWidth, f), what: "SSIM downsampling: column table")
    for j in 0..<outWidth {
      for u in 0..<f { sources[j * f + u] = symmetricIndex(j * f - (f - 1) / 2 + u, width) }
    }
    self.sources = sources
  }

  /// The input row of sample t of output row i.
  @inline(__always)
  func sourceRow(_ i: Int, _ t: Int) -> Int { symmetricIndex(i &* f &- shift &+ t, height) }

  /// Output row i into out[0 ..< outWidth]. `read(h, buffer)` writes input
  /// row h to buffer[0 ..< W]; `rowBuffer` and `sum` hold W values each.
  func row(
    _ i: Int, read: (Int, UnsafeMutablePointer<Double>) -> Void,
    rowBuffer: UnsafeMutablePointer<Double>, sum: UnsafeMutablePointer<Double>,
    into out: UnsafeMutablePointer<Double>
  ) {
    read(sourceRow(i, 0), sum)
    for t in 1..<max(1, f) {
      read(sourceRow(i, t), rowBuffer)
      for w in 0..<width { sum[w] += rowBuffer[w] }
    }
    let scale = Double(f * f)
    let src = sources.base
    for j in 0..<outWidth {
      var s = sum[src[j &* f]]
      for u in 1..<max(1, f) { s += sum[src[j &* f &+ u]] }
      out[j] = s / scale
    }
  }

  /// gin (H x W, dense) = the transpose applied to gd (outHeight x
  /// outWidth, rows `stride` apart). `rowBuffer` holds W values.
  func transpose(
    _ gd: UnsafePointer<Double>, stride: Int, into gin: UnsafeMutablePointer<Double>,
    rowBuffer: UnsafeMutablePointer<Double>
  ) {
    gin.update(repeating: 0, count: height * width)
    let inverse = 1 / Double(f * f)
    let src = sources.base
    for i in 0..<outHeight {
      rowBuffer.update(repeating: 0, count: width)
      let g = gd + i * stride
      for j in 0..<outWidth {
        let v = g[j] * inverse
        for u in 0..<f { rowBuffer[src[j &* f &+ u]] += v }
      }
      for t in 0..<f {
        let target = gin + sourceRow(i, t) * width
        for w in 0..<width { target[w] += rowBuffer[w] }
      }
    }
  }
}

/// The side after one MS-SSIM pyramid step: ceil(n / 2).
@inline(__always)
func halvedSide(_ n: Int) -> Int { (n &+ 1) / 2 }

/// One MS-SSIM pyramid step: src (h x w, rows `srcStride` apart) to dst
/// (ceil(h/2) x ceil(w/2), rows `dstStride` apart).
func halve(
  _ src: UnsafePointer<Double>, height h: Int, width w: Int, srcStride: Int,
  into dst: UnsafeMutablePointer<Double>, dstStride: Int
) {
  for i in 0..<halvedSide(h) {
    halveRow(src + (2 &* i) &* srcStride, src + min(2 &* i &+ 1, h &- 1) &* srcStride, width: w, into: dst + i &* dstStride)
  }
}

/// One row of `halve`: the coarse row of fine rows r0 and r1 (the same row
/// twice for the last row of an odd height), ceil(w/2) values.
@inline(__always)
func halveRow(_ r0: UnsafePointer<Double>, _ r1: UnsafePointer<Double>, width w: Int, into out: UnsafeMutablePointer<Double>) {
  // Four coarse values from eight fine columns of each row, their even and
  // odd lanes added in the scalar order below. (Left to the compiler, the
  // stride-2 loop stayed scalar: 3% of MS-SSIM 4x3x256x256.)
  let pairs = w / 2
  let a = UnsafeRawPointer(r0), b = UnsafeRawPointer(r1), o = UnsafeMutableRawPointer(out)
  var j = 0
  while j &+ 4 <= pairs {
    let x = a.loadUnaligned(fromByteOffset: 16 &* j, as: SIMD8<Double>.self)
    let y = b.loadUnaligned(fromByteOffset: 16 &* j, as: SIMD8<Double>.self)
    let v = 0.25 * (((x.evenHalf + y.evenHalf) + x.oddHalf) + y.oddHalf)
    o.storeBytes(of: v, toByteOffset: 8 &* j, as: SIMD4<Double>.self)
    j &+= 4
  }
  while j < pairs {
    let c0 = 2 &* j, c1 = c0 &+ 1
    out[j] = 0.25 * (((r0[c0] + r1[c0]) + r0[c1]) + r1[c1])
    j &+= 1
  }
  // The last column of an odd width reads its own column twice.
  if halvedSide(w) > pairs {
    let c0 = w &- 1
    out[pairs] = 0.25 * (((r0[c0] + r1[c0]) + r0[c0]) + r1[c0])
  }
}

/// acc (h x w, rows `accStride` apart) = scale * acc + the transpose of
/// `halve` applied to g (ceil(h/2) x ceil(w/2), rows `gStride` apart), in
/// one pass. Each element of acc receives 0.25 g of one coarse element:
/// once, or, mirrored at the end of an odd side, twice (four times in the
/// corner), added one at a time.
func scaleAddHalveTranspose(
  _ g: UnsafePointer<Double>, stride gStride: Int, height h: Int, width w: Int,
  into acc: UnsafeMutablePointer<Double>, stride accStride: Int, scale: Double
) {
  for r in 0..<h {
    scaleAddHalveTransposeRow(g, stride: gStride, row: r, height: h, width: w, into: acc + r &* accStride, scale: scale)
  }
}

/// Row r of `scaleAddHalveTranspose`: a (w values, row r of acc) = scale * a
/// plus what g (rows `gStride` apart) gives it.
@inline(__always)
func scaleAddHalveTransposeRow(
  _ g: UnsafePointer<Double>, stride gStride: Int, row r: Int, height h: Int, width w: Int,
  into a: UnsafeMutablePointer<Double>, scale: Double
) {
  let w2 = halvedSide(w), pairs = w / 2
  // The last row of an odd height is both rows of its coarse row.
  let twice = r == h &- 1 && h & 1 == 1
  let gr = g + (r / 2) &* gStride
  // Four coarse values to eight fine columns at a time, each duplicated
  // into its two lanes; the operations are the scalar loop's, in its order.
  let graw = UnsafeRawPointer(gr), araw = UnsafeMutableRawPointer(a)
  var j = 0
  while j &+ 4 <= pairs {
    let v4 = 0.25 * graw.loadUnaligned(fromByteOffset: 8 &* j, as: SIMD4<Double>.self)
    let v = SIMD8(v4[0], v4[0], v4[1], v4[1], v4[2], v4[2], v4[3], v4[3])
    let old = araw.loadUnaligned(fromByteOffset: 16 &* j, as: SIMD8<Double>.self)
    let new = twice ? old * scale + v + v : old * scale + v
    araw.storeBytes(of: new, toByteOffset: 16 &* j, as: SIMD8<Double>.self)
    j &+= 4
  }
  while j < pairs {
    let v = 0.25 * gr[j]
    let c0 = 2 &* j, c1 = c0 &+ 1
    a[c0] = twice ? a[c0] * scale + v + v : a[c0] * scale + v
    a[c1] = twice ? a[c1] * scale + v + v : a[c1] * scale + v
    j &+= 1
  }
  if w2 > pairs {
    // The last column of an odd width: both columns of its coarse column.
    let v = 0.25 * gr[pairs]
    let c = w &- 1
    a[c] = twice ? a[c] * scale + v + v + v + v : a[c] * scale + v + v
  }
}

/// Zeroes columns width ..< stride of `height` rows `stride` apart (the
/// padding the SSIM kernel reads past the end of a row).
func zeroPadding(_ rows: UnsafeMutablePointer<Double>, height: Int, width: Int, stride: Int) {
  guard stride > width else { return }
  for r in 0..<height { (rows + r &* stride + width).update(repeating: 0, count: stride &- width) }
}
