// Vectorisable exp and log for Double (FastMath.swift has the Float ones).
//
// Why: libm's exp and log are function calls, which keep a loop scalar. On
// float64 logits, cross-entropy ran at 3 ns per element (8192 x 1000, one
// thread) and BCE from logits at 8, half of numpy's time at best; PyTorch
// vectorises these with SLEEF's 1-ulp functions, and so does this file, in
// plain arithmetic and integer bit operations the compiler vectorises.
//
// The methods are the textbook ones (Muller, "Elementary Functions",
// chapters 5 and 6); the polynomials are truncated series, not fits, so
// each coefficient can be checked by eye: 1/k! for exp, 2/(2k + 1) for
// log's atanh series. Accuracy, checked against Float80's expl and logl by
// FastMathDoubleTests: exp, log and log1p within 1 ulp over their domains
// (0.84-0.87 at worst on the tests' points).

extension FastMath {
  /// ln 2 in two parts: `ln2High` has its low 21 bits zero, so that n x it
  /// is exact for |n| < 2^21 (Cody and Waite).
  @inlinable static var ln2High: Double { 0.693_147_180_369_123_8 }
  @inlinable static var ln2Low: Double { 1.908_214_929_270_587_7e-10 }

  /// n = round(x / ln 2) and e^(x - n ln 2) for an already clamped x,
  /// returned as (n + 1023, the series): n biased as a Double exponent,
  /// ready for `powerOfTwo`. The structure is the Float version's.
  @inlinable @inline(__always)
  static func expReduced(_ clamped: Double) -> (Int64, Double) {
    // t = 1.5 * 2^52 + 1023 + n: its low mantissa bits are n + 1023.
    let magic: Double = 6_755_399_441_056_768 + 1023
    let t = magic.addingProduct(clamped, 1.442_695_040_888_963_4)
    let biased = Int64(bitPattern: t.bitPattern) &- Int64(bitPattern: Double(6_755_399_441_056_768).bitPattern)
    let nf = t - magic
    var r = clamped.addingProduct(nf, -ln2High)
    r = r.addingProduct(nf, -ln2Low)
    // |r| <= ln 2 / 2: the series to r^13 / 13! leaves out less than
    // r^14 / 14! = 4.2e-18 (0.04 ulp of e^r).
    var p: Double = 1.605_904_383_682_161_3e-10  // 1/13!
    p = Double(2.087_675_698_786_81e-9).addingProduct(p, r)
    p = Double(2.505_210_838_544_172e-8).addingProduct(p, r)
    p = Double(2.755_731_922_398_589e-7).addingProduct(p, r)
    p = Double(2.755_731_922_398_589_3e-6).addingProduct(p, r)
    p = Double(2.480_158_730_158_73e-5).addingProduct(p, r)
    p = Double(1.984_126_984_126_984e-4).addingProduct(p, r)
    p = Double(1.388_888_888_888_889e-3).addingProduct(p, r)
    p = Double(8.333_333_333_333_333e-3).addingProduct(p, r)
    p = Double(4.166_666_666_666_666_4e-2).addingProduct(p, r)
    p = Double(0.166_666_666_666_666_66).addingProduct(p, r)
    p = Double(0.5).addingProduct(p, r)
    p = Double(1).addingProduct(p, r)
    return (biased, Double(1).addingProduct(p, r))
  }

  /// 2^(biased - 1023) for biased in [1, 2046], a normal power of two.
  @inlinable @inline(__always)
  static func powerOfTwo(biased: Int64) -> Double {
    Double(bitPattern: UInt64(bitPattern: biased << 52))
  }

  /// e^x. Inputs below -746 give 0 (or the nearest subnormal), above 710
  /// +infinity; NaN gives NaN. No branch, no trap on any input.
  @inlinable @inline(__always)
  static func exp(_ x: Double) -> Double {
    let (biased, series) = expReduced(x < -746 ? -746 : (x > 710 ? 710 : x))
    // 2^n as two normal powers of two, so that subnormal results (n down
    // to -1076) and n = 1024 scale without leaving the exponent range.
    let n = biased &- 1023
    let half = n >> 1
    let result = series * powerOfTwo(biased: half &+ 1023) * powerOfTwo(biased: n &- half &+ 1023)
    return x != x ? x : result
  }

  /// e^x for x <= 0, flushing results below 2^-1022 (x < -708.39) to 0;
  /// NaN gives NaN. (As the Float version: softmax and sigmoid arguments.)
  @inlinable @inline(__always)
  static func expNonPositive(_ x: Double) -> Double {
    let (biased, series) = expReduced(x < -708.39 ? -708.39 : x)
    let result = series * powerOfTwo(biased: biased)
    return x < -708.39 ? 0 : result
  }

  /// k ln 2 + log(1 + f) for f in [sqrt(1/2) - 1, 1/2], k an integer.
  ///
  /// With s = f / (2 + f), log(1 + f) = 2 atanh(s) = 2s + s R(s^2),
  /// R(z) = 2z/3 + 2z^2/5 + ..., evaluated as f - (f^2/2 - s (f^2/2 + R)):
  /// f enters exactly and the rounding of s only touches a term of order
  /// f^3 (the same identity as fdlibm's log). |s| <= 1/5 here, and the
  /// series to z^11 leaves out less than z^12 / 25 (3e-19 relative).
  @inlinable @inline(__always)
  static func logOnePlus(_ f: Double, plus k: Double) -> Double {
    let s = f / (2 + f)
    let z = s * s
    var p: Double = 8.695_652_173_913_043e-2  // 2/23
    p = Double(9.523_809_523_809_523e-2).addingProduct(p, z)
    p = Double(0.105_263_157_894_736_84).addingProduct(p, z)
    p = Double(0.117_647_058_823_529_41).addingProduct(p, z)
    p = Double(0.133_333_333_333_333_33).addingProduct(p, z)
    p = Double(0.153_846_153_846_153_85).addingProduct(p, z)
    p = Double(0.181_818_181_818_181_82).addingProduct(p, z)
    p = Double(0.222_222_222_222_222_2).addingProduct(p, z)
    p = Double(0.285_714_285_714_285_7).addingProduct(p, z)
    p = Double(0.4).addingProduct(p, z)
    p = Double(0.666_666_666_666_666_6).addingProduct(p, z)
    let r = p * z
    let halfSquare = 0.5 * f * f
    return k * ln2High + (f - (halfSquare - (s * (halfSquare + r) + k * ln2Low)))
  }

  /// The natural logarithm for finite x > 0 (0 gives -infinity, infinity
  /// gives infinity, negative or NaN gives NaN).
  @inlinable @inline(__always)
  static func log(_ x: Double) -> Double {
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)); subnormals are scaled first.
    let tiny = x < Double.leastNormalMagnitude
    let v = tiny ? x * 18_014_398_509_481_984 : x  // 2^54
    let bits = Int64(bitPattern: v.bitPattern)
    var e = ((bits >> 52) & 0x7FF) &- 1022
    let m = Double(bitPattern: UInt64(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FE0_0000_0000_0000))  // [0.5, 1)
    let small = m < 0.707_106_781_186_547_6
    e = small ? e &- 1 : e
    // Both differences are exact (Sterbenz): 2m and m are within a factor
    // of two of 1.
    let f = small ? (m + m) - 1 : m - 1
    let result = logOnePlus(f, plus: Double(e) - (tiny ? 54 : 0))
    return x > 0 ? (x == .infinity ? x : result) : (x == 0 ? -.infinity : .nan)
  }

  /// a + log(1 + x) for x in [0, 1] (softplus's log1p(exp(-|z|))): x
  /// enters the series exactly (1 + x is never formed), within 1 ulp.
  @inlinable @inline(__always)
  static func log1pUnit(_ x: Double, plus a: Double = 0) -> Double {
    // 1 + x = 2 (1 + (x - 1) / 2) from x = 1/2 up; x - 1 is exact there.
    let upper = x >= 0.5
    return a + logOnePlus(upper ? (x - 1) * 0.5 : x, plus: upper ? 1 : 0)
  }
}
