import RealModule

/// sum_i (a[i] + log(1 + e[i])) over n pairs with e[i] in [0, 1] (or
/// NaN), in Double, with one logarithm per call instead of one per
/// element: the logarithms are summed as the logarithm of the product of
/// the 1 + e[i], kept exactly enough in sixteen Double lanes.
///
/// Why: binary cross-entropy from logits is bound by its arithmetic, and
/// log1p's polynomial was a third of it (nine multiply-adds per element).
/// A lane's product takes one multiply-add, p + p f, whose rounding is
/// 2^-53 of the product: at most 2^-27 of the factor's own logarithm when
/// f >= 2^-26. The float32 caller adds smaller e to a instead, where
/// log(1 + e) is e to within 2^-27 of itself (`ElementwisePass.logitsRow`).
///
/// Elements 16 apart are taken in pairs, in T, so that a pair costs one
/// conversion to Double instead of two (the conversions were most of this
/// function's time; BCE from logits, 2^18 float32 elements, one thread,
/// forward+backward: 0.142 -> 0.131 ms): a[i] + a[i + 16] rounded once,
/// and (1 + e[i])(1 + e[i + 16]) as 1 + f with f = e[i] + e[i + 16] +
/// e[i] e[i + 16], rounded twice, so at most 2^-23 of f off; log(1 + f)
/// is then off by at most 2^-23 of itself (f / (1 + f) <= log(1 + f)), as
/// float32 rounding of each term.
///
/// The order of operations is fixed by the source (lane i mod 16, as
/// laneSum), so the sum is bitwise the same for any thread count.
@inlinable @inline(__always)
func log1pSum<T: SimLossFloat>(_ n: Int, _ a: UnsafePointer<T>, _ e: UnsafePointer<T>) -> Double {
  var s0 = SIMD8<Double>(), s1 = SIMD8<Double>()
  var p0 = SIMD8<Double>(repeating: 1), p1 = p0
  // Exponents taken out of the products every 2^8 pairs per lane, so that
  // a lane's product (each pair's factor <= 4) never passes 2^512.
  var exponents = SIMD8<Int64>()
  // The pair of element k of a block of 32: k and k + 16.
  @inline(__always) func aPair(_ i: Int, _ k: Int) -> Double { (a[i &+ k] + a[i &+ k &+ 16]).asDouble }
  @inline(__always) func ePair(_ i: Int, _ k: Int) -> Double {
    let e1 = e[i &+ k], e2 = e[i &+ k &+ 16]
    return (e1 + e2).addingProduct(e1, e2).asDouble
  }
  var i = 0, sinceRescale = 0
  while i &+ 32 <= n {
    s0 += SIMD8<Double>(
      aPair(i, 0), aPair(i, 1), aPair(i, 2), aPair(i, 3), aPair(i, 4), aPair(i, 5), aPair(i, 6), aPair(i, 7))
    s1 += SIMD8<Double>(
      aPair(i, 8), aPair(i, 9), aPair(i, 10), aPair(i, 11), aPair(i, 12), aPair(i, 13), aPair(i, 14), aPair(i, 15))
    let f0 = SIMD8<Double>(
      ePair(i, 0), ePair(i, 1), ePair(i, 2), ePair(i, 3), ePair(i, 4), ePair(i, 5), ePair(i, 6), ePair(i, 7))
    let f1 = SIMD8<Double>(
      ePair(i, 8), ePair(i, 9), ePair(i, 10), ePair(i, 11), ePair(i, 12), ePair(i, 13), ePair(i, 14), ePair(i, 15))
    p0 = p0.addingProduct(p0, f0)
    p1 = p1.addingProduct(p1, f1)
    i &+= 32
    sinceRescale &+= 1
    if sinceRescale == 256 {
      sinceRescale = 0
      takeExponents(&p0, into: &exponents)
      takeExponents(&p1, into: &exponents)
    }
  }
  // Fewer than 32 left: one at a time, lane i mod 16.
  while i < n {
    let ai = a[i].asDouble, ei = e[i].asDouble
    let lane = i & 15
    if lane < 8 {
      s0[lane] += ai
      p0[lane] = p0[lane].addingProduct(p0[lane], ei)
    } else {
      s1[lane &- 8] += ai
      p1[lane &- 8] = p1[lane &- 8].addingProduct(p1[lane &- 8], ei)
    }
    i &+= 1
  }
  // A NaN factor makes the sum NaN (the exponent split below would hide it).
  if any(p0 .!= p0) || any(p1 .!= p1) { return .nan }
  takeExponents(&p0, into: &exponents)
  takeExponents(&p1, into: &exponents)
  // Sixteen mantissas in [1, 2): their product is below 2^16.
  let p = p0 * p1
  let product = ((p[0] * p[1]) * (p[2] * p[3])) * ((p[4] * p[5]) * (p[6] * p[7]))
  s0 += s1
  let s = pairwiseSum(s0)
  return s + (Double(exponents.wrappedSum()) * 0.693_147_180_559_945_3 + Double.log(product))
}

/// Moves the binary exponents of p's lanes (finite, >= 1) into `exponents`,
/// leaving mantissas in [1, 2).
@inlinable @inline(__always)
func takeExponents(_ p: inout SIMD8<Double>, into exponents: inout SIMD8<Int64>) {
  let bits = unsafeBitCast(p, to: SIMD8<UInt64>.self)
  exponents &+= unsafeBitCast(bits &>> 52, to: SIMD8<Int64>.self) &- 1023
  p = unsafeBitCast((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000, to: SIMD8<Double>.self)
}
