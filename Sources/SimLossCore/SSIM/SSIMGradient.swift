// The gradient of SSIM: per-pixel coefficient maps and the backward pass of
// the separable filter.
//
// Implementation goals, in order of priority:
//  1. the exact derivative of the returned value (the classic formulation:
//     the map depends on x only through mu_x, E[x^2 + y^2] and E[xy], each
//     a filter of x, x^2 + y^2 or x*y; the chain rule gives three
//     coefficient maps that go back through the transposed filter; below,
//     d/dE[x^2] is the derivative with respect to E[x^2 + y^2]);
//  2. deterministic: fixed-order sums over taps, the same in every band;
//  3. speed: the coefficients are formed in registers straight from the
//     forward statistics; the transposed filters run on three rows at once,
//     and the backward vertical pass gathers two gradient rows at a time
//     from a ring of the last win + 1 transposed rows, so each gradient row
//     is written once and no map is stored.
//
// With A1 = 2 mu_x mu_y + C1, A2 = 2 sigma_xy + C2, B1 = mu_x^2 + mu_y^2 + C1,
// B2 = sigma_x^2 + sigma_y^2 + C2, D = B1 B2, kappa = NP/(NP-1) or 1,
// sigma_x^2 = kappa (E[x^2] - mu_x^2), sigma_xy = kappa (E[xy] - mu_x mu_y):
//
//   S = A1 A2 / D
//     dS/dmu_x  = 2 mu_y (A2 - kappa A1) / D + 2 mu_x S (kappa / B2 - 1 / B1)
//     dS/dE[x^2] = -kappa S / B2
//     dS/dE[xy]  = 2 kappa A1 / D
//   cs = A2 / B2
//     dcs/dmu_x  = 2 kappa (mu_x cs - mu_y) / B2
//     dcs/dE[x^2] = -kappa cs / B2
//     dcs/dE[xy]  = 2 kappa / B2
//
//   d(sum_p alpha map(p)) / dx = G^T a + 2 x G^T b + y G^T c,
//   a, b, c = alpha * (d/dmu_x, d/dE[x^2], d/dE[xy]),  G the window filter.

/// The map whose (weighted) sum a band differentiates.
enum SSIMGradientTarget {
  /// The SSIM map.
  case ssim
  /// The contrast-structure map cs (MS-SSIM's levels 1 ... M-1).
  case cs
}

/// The coefficients (a, b, c) of eight pixels: `scale` times the
/// derivatives of the target map with respect to mu_x, E[x^2] and E[xy].
@inline(__always)
func ssimCoefficients(
  _ target: SSIMGradientTarget, muX: Lanes, muY: Lanes,
  a1: Lanes, a2: Lanes, b1: Lanes, b2: Lanes, s: Lanes, cs: Lanes,
  kappa: Double, scale: Double
) -> (Lanes, Lanes, Lanes) {
  // r = 1 / (B1 B2); 1 / B1 = B2 r and 1 / B2 = B1 r: one division.
  let r = 1 / (b1 * b2)
  let inverseB2 = b1 * r
  switch target {
  case .ssim:
    let inverseB1 = b2 * r
    let dMu = 2 * muY * (a2 - kappa * a1) * r + 2 * muX * s * (kappa * inverseB2 - inverseB1)
    let dXX = -kappa * s * inverseB2
    let dXY = (2 * kappa) * a1 * r
    return (scale * dMu, scale * dXX, scale * dXY)
  case .cs:
    let dMu = (2 * kappa) * (muX * cs - muY) * inverseB2
    let dXX = -kappa * cs * inverseB2
    let dXY = (2 * kappa) * inverseB2
    return (scale * dMu, scale * dXX, scale * dXY)
  }
}

/// The backward vertical pass and the per-pixel combination for one
/// gradient row.
///
/// `ring` holds the horizontally transposed coefficient rows, interleaved
/// (see `transposedHorizontal3`), one slot per row; `slots[k]` is the
/// offset of the slot of row i - k. `row` is the interleaved input slot of
/// row i (see `interleavedRow`). out[q] = sum_k g[k] A[i-k][q] +
/// 2 x[q] sum_k g[k] B[i-k][q] + y[q] sum_k g[k] C[i-k][q], for q in
/// 0 ..< columns (a multiple of 8).
@inline(__always)
func gatherGradientRow(
  ring: UnsafePointer<Double>, slots: UnsafePointer<Int>, taps: UnsafePointer<Double>, win: Int,
  row: UnsafePointer<Double>, columns: Int, into out: UnsafeMutablePointer<Double>
) {
  var q = 0
  while q < columns {
    var ga = Lanes(), gb = Lanes(), gc = Lanes()
    var k = 0
    while k < win {
      let g = Lanes(repeating: taps[k])
      let p = ring + (slots[k] &+ 3 &* q)
      ga = madd(ga, g, Lanes(lowHalf: load4(p), highHalf: load4(p + 12)))
      gb = madd(gb, g, Lanes(lowHalf: load4(p + 4), highHalf: load4(p + 16)))
      gc = madd(gc, g, Lanes(lowHalf: load4(p + 8), highHalf: load4(p + 20)))
      k &+= 1
    }
    let xv = Lanes(lowHalf: load4(row + 4 &* q), highHalf: load4(row + (4 &* q &+ 16)))
    let yv = Lanes(lowHalf: load4(row + (4 &* q &+ 4)), highHalf: load4(row + (4 &* q &+ 20)))
    store8(madd(madd(ga, xv, gb + gb), yv, gc), out + q)
    q &+= 8
  }
}

/// `gatherGradientRow` for two consecutive gradient rows i - 1 and i at
/// once: they share win - 1 transposed rows, so each ring row is loaded
/// once for both (the ring does not fit in L1; the single-row pass is bound
/// by its loads from L2). `slots[t]` (t = 0 ... win) is the offset of the
/// slot of row i - t; `earlier` and `later` are the interleaved input
/// slots of rows i - 1 and i. Each output is computed with the operations
/// of `gatherGradientRow`, in the same order (from zero, tap 0 first), so
/// it is bitwise the same. Four columns per step.
@inline(__always)
func gatherGradientRows2(
  ring: UnsafePointer<Double>, slots: UnsafePointer<Int>, taps: UnsafePointer<Double>, win: Int,
  earlier: UnsafePointer<Double>, later: UnsafePointer<Double>, columns: Int,
  into outEarlier: UnsafeMutablePointer<Double>, _ outLater: UnsafeMutablePointer<Double>
) {
  var q = 0
  while q < columns {
    // Ring row i feeds row i only (its tap 0).
    var p = ring + (slots[0] &+ 3 &* q)
    var g = Lanes4(repeating: taps[0])
    var la = madd4(Lanes4(), g, load4(p)), lb = madd4(Lanes4(), g, load4(p + 4))
    var lc = madd4(Lanes4(), g, load4(p + 8))
    var ea = Lanes4(), eb = Lanes4(), ec = Lanes4()
    var t = 1
    while t < win {
      p = ring + (slots[t] &+ 3 &* q)
      g = Lanes4(repeating: taps[t])
      let h = Lanes4(repeating: taps[t &- 1])
      let a = load4(p), b = load4(p + 4), c = load4(p + 8)
      la = madd4(la, g, a)
      lb = madd4(lb, g, b)
      lc = madd4(lc, g, c)
      ea = madd4(ea, h, a)
      eb = madd4(eb, h, b)
      ec = madd4(ec, h, c)
      t &+= 1
    }
    // Ring row i - win feeds row i - 1 only (its last tap).
    p = ring + (slots[win] &+ 3 &* q)
    g = Lanes4(repeating: taps[win &- 1])
    ea = madd4(ea, g, load4(p))
    eb = madd4(eb, g, load4(p + 4))
    ec = madd4(ec, g, load4(p + 8))
    let o = 4 &* q
    store4(madd4(madd4(la, load4(later + o), lb + lb), load4(later + (o &+ 4)), lc), outLater + q)
    store4(madd4(madd4(ea, load4(earlier + o), eb + eb), load4(earlier + (o &+ 4)), ec), outEarlier + q)
    q &+= 4
  }
}
