import RealModule

/// sum_i (a[i] + log(1 + e[i])) over n pairs with e[i] in [0, 1] (or
/// NaN), in Double, with one logarithm per call instead of one per
/// element: the logarithms are summed as the logarithm of the product of
/// the 1 + e[i], kept exactly enough in sixteen Double lanes.
///
/// Why: binary cross-entropy from logits is bound by its arithmetic, and
/// log1p's polynomial was a third of it (nine multiply-adds per element).
/// A lane's product takes one multiply-add, p + p e (the exact p (1 + e)
/// rounded once, so e's low bits are not lost in forming 1 + e), whose
/// rounding is 2^-53 of the product: at most 2^-27 of the factor's own
/// logarithm when e >= 2^-26. The float32 caller adds smaller e to a
/// instead, where log(1 + e) is e to within 2^-27 of itself
/// (`ElementwisePass.logitsRow`).
///
/// The order of operations is fixed by the source (lane i mod 16, as
/// laneSum), so the sum is bitwise the same for any thread count.
@inlinable @inline(__always)
func log1pSum<T: SimLossFloat>(_ n: Int, _ a: UnsafePointer<T>, _ e: UnsafePointer<T>) -> Double {
  var s0 = SIMD8<Double>(), s1 = SIMD8<Double>()
  var p0 = SIMD8<Double>(repeating: 1), p1 = p0
  // Exponents taken out of the products every 2^9 factors per lane, so
  // that a lane's product (a mantissa in [1, 2) after each rescale, then
  // 512 factors <= 2, then the tail's one more) stays below 2^514, far
  // from Double's 2^1024.
  var exponents = SIMD8<Int64>()
  var i = 0, sinceRescale = 0
  while i &+ 16 <= n {
    s0 += SIMD8<Double>(
      a[i].asDouble, a[i &+ 1].asDouble, a[i &+ 2].asDouble, a[i &+ 3].asDouble,
      a[i &+ 4].asDouble, a[i &+ 5].asDouble, a[i &+ 6].asDouble, a[i &+ 7].asDouble)
    s1 += SIMD8<Double>(
      a[i &+ 8].asDouble, a[i &+ 9].asDouble, a[i &+ 10].asDouble, a[i &+ 11].asDouble,
      a[i &+ 12].asDouble, a[i &+ 13].asDouble, a[i &+ 14].asDouble, a[i &+ 15].asDouble)
    let e0 = SIMD8<Double>(
      e[i].asDouble, e[i &+ 1].asDouble, e[i &+ 2].asDouble, e[i &+ 3].asDouble,
      e[i &+ 4].asDouble, e[i &+ 5].asDouble, e[i &+ 6].asDouble, e[i &+ 7].asDouble)
    let e1 = SIMD8<Double>(
      e[i &+ 8].asDouble, e[i &+ 9].asDouble, e[i &+ 10].asDouble, e[i &+ 11].asDouble,
      e[i &+ 12].asDouble, e[i &+ 13].asDouble, e[i &+ 14].asDouble, e[i &+ 15].asDouble)
    p0 = p0.addingProduct(p0, e0)
    p1 = p1.addingProduct(p1, e1)
    i &+= 16
    sinceRescale &+= 1
    if sinceRescale == 512 {
      sinceRescale = 0
      takeExponents(&p0, into: &exponents)
      takeExponents(&p1, into: &exponents)
    }
  }
  var lane = 0
  while i < n {
    let ai = a[i].asDouble, ei = e[i].asDouble
    if lane < 8 {
      s0[lane] += ai
      p0[lane] = p0[lane].addingProduct(p0[lane], ei)
    } else {
      s1[lane &- 8] += ai
      p1[lane &- 8] = p1[lane &- 8].addingProduct(p1[lane &- 8], ei)
    }
    i &+= 1
    lane &+= 1
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
