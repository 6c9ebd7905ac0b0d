// The separable window filters of SSIM, forward and transposed, on rows of
// Double scratch.
//
// Implementation goals, in order of priority:
//  1. exact: every statistic is accumulated in Double from the (widened)
//     inputs, so E[x^2] - mu_x^2 loses at most a few ulps of E[x^2] (the
//     float32 failure of note 6 in conventions.md cannot happen), and a
//     float32 image gives the same SSIM as its float64 copy;
//  2. the transposed filter is the exact adjoint of the forward one (same
//     taps, reversed, over the zero-extended map), which makes the gradient
//     exact;
//  3. deterministic: each output is a fixed-order sum over taps (tap 0
//     first) in fixed SIMD lanes, so it is bitwise the same wherever and on
//     whichever thread it is computed (the band halos of SSIM recompute
//     rows that a neighbouring band also computes; both get the same bits);
//  4. speed: SSIM and its gradient depend on x^2 and y^2 only through
//     sigma_x^2 + sigma_y^2, so four moment images (x, y, x^2 + y^2, xy)
//     are filtered, not five (a fifth less work in both passes). They go
//     through the vertical pass together, four output rows at a time (they
//     share win - 3 input rows), from a ring of input rows whose products
//     are formed once and whose four values per column group are
//     interleaved (contiguous loads: 128 bytes, two cache lines, per tap);
//     the horizontal pass keeps its four accumulators in registers and
//     hands them to the SSIM formula. Rows are padded to a multiple of 8
//     columns, so no loop has a scalar tail. Measured on this machine: the
//     interleaved ring made the forward pass ~30% faster than row-major
//     rows (the vertical pass was bound by loads from L2), and four
//     moments instead of five took another 24% off (5.3 -> 4.0 ms for
//     1x3x512x512 on one thread); four output rows at a time instead of
//     two, 5-7% more (`verticalMoments4`).
//
//   vertical:    V_m[w] = sum_k g[k] M_m(i + k, w),  M in {x, y, x^2 + y^2, xy}
//   horizontal:  E_m[j] = sum_k g[k] V_m[j + k]
//   transposes:  (G^T a)[q] = sum_k g[k] a[q - k]   (a zero outside its rows)

/// Moment images filtered: x, y, x^2 + y^2, xy.
let momentCount = 4

/// Eight Double lanes: two AVX2 registers, one AVX-512 register.
typealias Lanes = SIMD8<Double>
/// Four Double lanes: one AVX2 register.
typealias Lanes4 = SIMD4<Double>

@inline(__always)
func load8(_ p: UnsafePointer<Double>) -> Lanes {
  UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always)
func store8(_ v: Lanes, _ p: UnsafeMutablePointer<Double>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}

@inline(__always)
func load4(_ p: UnsafePointer<Double>) -> Lanes4 {
  UnsafeRawPointer(p).loadUnaligned(as: Lanes4.self)
}

@inline(__always)
func store4(_ v: Lanes4, _ p: UnsafeMutablePointer<Double>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes4.self)
}

// acc + a * b. Fused (one rounding, one instruction) on targets that have
// FMA; elsewhere `addingProduct` would become a libm call per lane, so it
// is a multiply and an add. Either way a given build computes the same bits
// for the same operands, whatever the thread count.
#if SIMLOSS_TARGET_CPU_HASWELL || SIMLOSS_TARGET_CPU_NATIVE || SIMLOSS_TARGET_CPU_SKYLAKE || SIMLOSS_TARGET_CPU_ZNVER3 || SIMLOSS_TARGET_CPU_ZNVER4 || arch(arm64)
  @inline(__always)
  func madd(_ acc: Lanes, _ a: Lanes, _ b: Lanes) -> Lanes { acc.addingProduct(a, b) }
  @inline(__always)
  func madd4(_ acc: Lanes4, _ a: Lanes4, _ b: Lanes4) -> Lanes4 { acc.addingProduct(a, b) }
#else
  @inline(__always)
  func madd(_ acc: Lanes, _ a: Lanes, _ b: Lanes) -> Lanes { acc + a * b }
  @inline(__always)
  func madd4(_ acc: Lanes4, _ a: Lanes4, _ b: Lanes4) -> Lanes4 { acc + a * b }
#endif

/// The fixed-order sum of the eight lanes.
@inline(__always)
func laneTotal(_ v: Lanes) -> Double {
  ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

/// One input row as a ring slot: for each group of four columns c, the
/// sixteen values x, y, x^2 + y^2, xy (four lanes each) at slot[4 c ...].
/// Interleaving puts the four values a tap of the vertical pass reads in
/// 128 contiguous bytes. Each input row serves `win` output rows; forming
/// its products once saves three operations per tap and gives every output
/// row the same rounded products. With x == y, x^2 + y^2 is exactly 2 xy,
/// so identical images give exactly 1.
@inline(__always)
func interleavedRow(
  _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, columns: Int, into slot: UnsafeMutablePointer<Double>
) {
  var c = 0
  while c < columns {
    let xv = load4(x + c), yv = load4(y + c)
    let p = slot + 4 &* c
    store4(xv, p)
    store4(yv, p + 4)
    store4(xv * xv + yv * yv, p + 8)
    store4(xv * yv, p + 12)
    c &+= 4
  }
}

/// The vertical pass of the four moments for one output row (windows of
/// fewer than 3 rows; wider ones go four rows at a time,
/// `verticalMoments4`).
///
/// Input row k of the window (k < win) is the interleaved slot at
/// `rows + offsets[k]` (see `interleavedRow`). `v` receives four rows of
/// `stride` columns (x, y, x^2 + y^2, xy). `stride` is a multiple of 8.
/// Each output is g[0] m[0], then + g[k] m[k] for k = 1 ..< win, in that
/// order.
@inline(__always)
func verticalMoments(
  _ rows: UnsafePointer<Double>, offsets: UnsafePointer<Int>, stride: Int, taps: UnsafePointer<Double>,
  win: Int, into v: UnsafeMutablePointer<Double>
) {
  let s2 = 2 &* stride, s3 = 3 &* stride
  var c = 0
  while c < stride {
    var p = rows + (offsets[0] &+ 4 &* c)
    var g = Lanes4(repeating: taps[0])
    var m0 = g * load4(p), m1 = g * load4(p + 4), m2 = g * load4(p + 8), m3 = g * load4(p + 12)
    var k = 1
    while k < win {
      g = Lanes4(repeating: taps[k])
      p = rows + (offsets[k] &+ 4 &* c)
      m0 = madd4(m0, g, load4(p))
      m1 = madd4(m1, g, load4(p + 4))
      m2 = madd4(m2, g, load4(p + 8))
      m3 = madd4(m3, g, load4(p + 12))
      k &+= 1
    }
    store4(m0, v + c)
    store4(m1, v + (stride &+ c))
    store4(m2, v + (s2 &+ c))
    store4(m3, v + (s3 &+ c))
    c &+= 4
  }
}

/// Two values (two vectors of four lanes) of four outputs of a window
/// sliding over rows, each row loaded once for the (up to) four outputs it
/// feeds: output q = sum over t of g[t - q] row(t), for t = q ..< q + win,
/// summed in increasing t (g[0] row(q) first, an FMA onto zero, which is
/// the same rounded product as a multiplication, up to the sign of a zero
/// product). `row(t)` is called once
/// for each t in 0 ... win + 2, in increasing order. Needs win >= 3.
///
/// (The backward vertical pass, `gatherGradientRows2`, gathered four rows
/// at a time with this as well: bitwise the same, and 0.5% faster on
/// 8x3x256x256 forward+backward, 16.17 -> 16.09 ms, minimum of 15 rounds
/// each: not worth its larger rings.)
@inline(__always)
func slidingQuad(
  taps: UnsafePointer<Double>, win: Int, _ row: (Int) -> (Lanes4, Lanes4)
) -> (Lanes4, Lanes4, Lanes4, Lanes4, Lanes4, Lanes4, Lanes4, Lanes4) {
  // aq, bq: the two values of output q.
  var a0 = Lanes4(), b0 = Lanes4(), a1 = Lanes4(), b1 = Lanes4()
  var a2 = Lanes4(), b2 = Lanes4(), a3 = Lanes4(), b3 = Lanes4()
  @inline(__always) func tap(_ k: Int) -> Lanes4 { Lanes4(repeating: taps[k]) }
  // Rows 0, 1, 2: the first taps of outputs 0 ... 2.
  var (x, y) = row(0)
  var g0 = tap(0), g1 = tap(1), g2 = tap(2), g3: Lanes4
  a0 = madd4(a0, g0, x); b0 = madd4(b0, g0, y)
  (x, y) = row(1)
  a0 = madd4(a0, g1, x); b0 = madd4(b0, g1, y)
  a1 = madd4(a1, g0, x); b1 = madd4(b1, g0, y)
  (x, y) = row(2)
  a0 = madd4(a0, g2, x); b0 = madd4(b0, g2, y)
  a1 = madd4(a1, g1, x); b1 = madd4(b1, g1, y)
  a2 = madd4(a2, g0, x); b2 = madd4(b2, g0, y)
  // Rows 3 ..< win feed all four, with taps g[t], g[t-1], g[t-2], g[t-3]
  // (g0 ... g3): one new tap per row, the others move down.
  (g1, g2, g3) = (g2, g1, g0)
  var t = 3
  while t < win {
    (x, y) = row(t)
    g0 = tap(t)
    a0 = madd4(a0, g0, x); b0 = madd4(b0, g0, y)
    a1 = madd4(a1, g1, x); b1 = madd4(b1, g1, y)
    a2 = madd4(a2, g2, x); b2 = madd4(b2, g2, y)
    a3 = madd4(a3, g3, x); b3 = madd4(b3, g3, y)
    (g1, g2, g3) = (g0, g1, g2)
    t &+= 1
  }
  // Rows win, win + 1, win + 2: the last taps of outputs 1 ... 3.
  g0 = tap(win &- 1)
  g1 = tap(win &- 2)
  g2 = tap(win &- 3)
  (x, y) = row(win)
  a1 = madd4(a1, g0, x); b1 = madd4(b1, g0, y)
  a2 = madd4(a2, g1, x); b2 = madd4(b2, g1, y)
  a3 = madd4(a3, g2, x); b3 = madd4(b3, g2, y)
  (x, y) = row(win &+ 1)
  a2 = madd4(a2, g0, x); b2 = madd4(b2, g0, y)
  a3 = madd4(a3, g1, x); b3 = madd4(b3, g1, y)
  (x, y) = row(win &+ 2)
  a3 = madd4(a3, g0, x); b3 = madd4(b3, g0, y)
  return (a0, b0, a1, b1, a2, b2, a3, b3)
}

/// The vertical pass of four consecutive output rows i ... i + 3 at once:
/// each input row is loaded once for the (up to) four it feeds, so the
/// input ring, which lives in L2, is read win + 3 times per four output
/// rows. (Measured against two rows at a time, 12 reads per two rows: SSIM
/// forward 1x3x512x512 on one thread 4.28 -> 3.95-4.15 ms; folding the
/// symmetric taps, (m[k] + m[win-1-k]) g[k], which halves the
/// multiply-adds, made it slower in both forms tried: the pass is bound by
/// its loads, not its arithmetic.) `offsets` has win + 3 entries; `v`
/// receives the four rows' moments, `setStride` Doubles apart (each as in
/// `verticalMoments`). Bit for bit the sums of `verticalMoments`. Needs
/// win >= 3.
@inline(__always)
func verticalMoments4(
  _ rows: UnsafePointer<Double>, offsets: UnsafePointer<Int>, stride: Int, taps: UnsafePointer<Double>,
  win: Int, into v: UnsafeMutablePointer<Double>, setStride: Int
) {
  let v1 = v + setStride, v2 = v1 + setStride, v3 = v2 + setStride
  var c = 0
  while c < stride {
    // Two moments at a time: eight accumulators, two loaded rows and four
    // taps fill AVX2's sixteen registers.
    var m = 0
    while m < momentCount {
      let column = 4 &* c &+ 4 &* m
      let r = slidingQuad(taps: taps, win: win) { t in
        let p = rows + (offsets[t] &+ column)
        return (load4(p), load4(p + 4))
      }
      let o = m &* stride &+ c
      store4(r.0, v + o)
      store4(r.1, v + (o &+ stride))
      store4(r.2, v1 + o)
      store4(r.3, v1 + (o &+ stride))
      store4(r.4, v2 + o)
      store4(r.5, v2 + (o &+ stride))
      store4(r.6, v3 + o)
      store4(r.7, v3 + (o &+ stride))
      m &+= 2
    }
    c &+= 4
  }
}

/// The horizontal pass of the four moment rows at output columns
/// j...j+7: (mu_x, mu_y, E[x^2 + y^2], E[xy]).
@inline(__always)
func horizontalMoments(
  _ v: UnsafePointer<Double>, stride: Int, at j: Int, taps: UnsafePointer<Double>, win: Int
) -> (Lanes, Lanes, Lanes, Lanes) {
  var m0 = Lanes(), m1 = Lanes(), m2 = Lanes(), m3 = Lanes()
  var k = 0
  while k < win {
    let g = Lanes(repeating: taps[k])
    let p = v + (j &+ k)
    m0 = madd(m0, g, load8(p))
    m1 = madd(m1, g, load8(p + stride))
    m2 = madd(m2, g, load8(p + 2 &* stride))
    m3 = madd(m3, g, load8(p + 3 &* stride))
    k &+= 1
  }
  return (m0, m1, m2, m3)
}

/// The transpose of the horizontal pass for three coefficient rows.
///
/// `a` holds three rows `aStride` apart, each with the map's values at
/// columns win-1 ..< win-1+Wo and zeros around them; out[q] = sum_k
/// reversed[k] a[q + k] = sum_k g[k] map[q - k] for q in 0..<columns
/// (a multiple of 8). `out` receives the three rows interleaved: for each
/// group of four columns q, A[q ..< q+4], B[...], C[...] at out[3 q ...]
/// (the backward vertical pass then reads contiguous memory per tap).
@inline(__always)
func transposedHorizontal3(
  _ a: UnsafePointer<Double>, aStride: Int, reversed: UnsafePointer<Double>, win: Int,
  columns: Int, into out: UnsafeMutablePointer<Double>
) {
  var q = 0
  while q < columns {
    var s0 = Lanes(), s1 = Lanes(), s2 = Lanes()
    var k = 0
    while k < win {
      let g = Lanes(repeating: reversed[k])
      let p = a + (q &+ k)
      s0 = madd(s0, g, load8(p))
      s1 = madd(s1, g, load8(p + aStride))
      s2 = madd(s2, g, load8(p + 2 &* aStride))
      k &+= 1
    }
    let o = out + 3 &* q
    store4(s0.lowHalf, o)
    store4(s1.lowHalf, o + 4)
    store4(s2.lowHalf, o + 8)
    store4(s0.highHalf, o + 12)
    store4(s1.highHalf, o + 16)
    store4(s2.highHalf, o + 20)
    q &+= 8
  }
}
