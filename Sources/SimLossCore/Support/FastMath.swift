import RealModule

// Vectorisable exp and log for Float.
//
// libm's expf and logf are function calls, which keep loops scalar: on a
// softmax over 8192 x 1000 logits they cost ten times the memory traffic.
// These are written in plain arithmetic and integer bit operations, which
// the compiler vectorises, with the classical Cody-Waite range reduction and
// minimax polynomials (Cephes' for log; exp's and log1p's fitted here, see
// each). Accuracy, checked against the
// Double functions over their domains by the tests: exp within 2 ulp, log
// within 2 ulp. The Double versions are in FastMathDouble.swift (within 1
// ulp); a type of the protocol's other than these two gets its own
// `Real` functions.

extension SimLossFloat {
  /// e^x in this type, vectorisable.
  @inlinable @inline(__always)
  static func fastExp(_ x: Self) -> Self {
    if Self.self == Float.self { return unsafeBitCast(FastMath.exp(unsafeBitCast(x, to: Float.self)), to: Self.self) }
    if Self.self == Double.self { return unsafeBitCast(FastMath.exp(unsafeBitCast(x, to: Double.self)), to: Self.self) }
    return Self.exp(x)
  }

  /// e^x for x <= 0 (softmax and sigmoid arguments, after the maximum or
  /// |x| is taken out): one scaling step instead of two; results below
  /// 2^-126 (x < -87.3) are 0 rather than subnormal (Double: below
  /// 2^-1022).
  @inlinable @inline(__always)
  static func fastExpNonPositive(_ x: Self) -> Self {
    if Self.self == Float.self {
      return unsafeBitCast(FastMath.expNonPositive(unsafeBitCast(x, to: Float.self)), to: Self.self)
    }
    if Self.self == Double.self {
      return unsafeBitCast(FastMath.expNonPositive(unsafeBitCast(x, to: Double.self)), to: Self.self)
    }
    return Self.exp(x)
  }

  /// log(x) for x > 0 in this type, vectorisable.
  @inlinable @inline(__always)
  static func fastLog(_ x: Self) -> Self {
    if Self.self == Float.self { return unsafeBitCast(FastMath.log(unsafeBitCast(x, to: Float.self)), to: Self.self) }
    if Self.self == Double.self { return unsafeBitCast(FastMath.log(unsafeBitCast(x, to: Double.self)), to: Self.self) }
    return Self.log(x)
  }
}

extension SimLossFloat {
  /// a + log(1 + x) for x in [0, 1] (what softplus needs, x = exp(-|z|)):
  /// a polynomial for Float, log(1 + x) within 2e-7 relative, tiny x
  /// included, and the sum rounded once; for Double, log(1 + x) within 1
  /// ulp, then the sum.
  @inlinable @inline(__always)
  static func fastLog1pUnit(_ x: Self, plus a: Self = 0) -> Self {
    if Self.self == Float.self {
      let (x, a) = (unsafeBitCast(x, to: Float.self), unsafeBitCast(a, to: Float.self))
      return unsafeBitCast(FastMath.log1pUnit(x, plus: a), to: Self.self)
    }
    if Self.self == Double.self {
      let (x, a) = (unsafeBitCast(x, to: Double.self), unsafeBitCast(a, to: Double.self))
      return unsafeBitCast(FastMath.log1pUnit(x, plus: a), to: Self.self)
    }
    return a + Self.log(onePlus: x)
  }
}

@usableFromInline
enum FastMath {
  /// a + log(1 + x) = a + x g(x) on [0, 1], g a degree-8 least-squares fit at
  /// Chebyshev nodes of log1p(x)/x (max relative error 1.7e-7 in float32,
  /// measured against float64 log1p on 500,000 points of [0, 1]).
  ///
  /// The polynomials here are evaluated in Horner's scheme: the fewest
  /// instructions, and the most accurate. Estrin's scheme halves the depth,
  /// which paid while BCE's exponential and logarithm were one loop; since
  /// they are split (ElementwisePass.row), the register copies its parallel
  /// starts need cost more than the latency it saves (BCE 2.5% slower on
  /// one thread; segmentation cross-entropy in cache, 8% slower).
  @inlinable @inline(__always)
  static func log1pUnit(_ x: Float, plus a: Float = 0) -> Float {
    var p: Float = 0.005_253_457_93
    p = Float(-0.029_588_507_5).addingProduct(p, x)
    p = Float(0.078_361_667_7).addingProduct(p, x)
    p = Float(-0.136_747_703).addingProduct(p, x)
    p = Float(0.191_114_306).addingProduct(p, x)
    p = Float(-0.248_443_693).addingProduct(p, x)
    p = Float(0.333_192_706).addingProduct(p, x)
    p = Float(-0.499_995_023).addingProduct(p, x)
    p = Float(1).addingProduct(p, x)
    return a.addingProduct(x, p)
  }

  /// The shared core of the exponentials: n = round(x / ln 2) and
  /// e^(x - n ln 2) for an already clamped x, returned as (n + 127, the
  /// polynomial): n biased as a float exponent, ready for `powerOfTwo`.
  /// Every step but the extraction of n is a fused multiply-add (Swift never
  /// contracts a * b + c by itself, and the unfused form costs twice the
  /// instructions in the loops that are bound by this function).
  @inlinable @inline(__always)
  static func expReduced(_ clamped: Float) -> (Int32, Float) {
    // n through the 1.5 * 2^23 trick: t = 1.5 * 2^23 + 127 + n, whose low
    // mantissa bits are n + 127, read without a (trapping) conversion. With
    // the bias in the constant, `biased << 23` is t's bits shifted (the
    // bits of 1.5 * 2^23 shift out): one instruction fewer per exponential.
    let magic: Float = 12_583_039  // 1.5 * 2^23 + 127
    let t = magic.addingProduct(clamped, 1.442_695_04)
    let biased = Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: Float(12_582_912).bitPattern)
    let nf = t - magic
    // r = x - n ln 2 in two pieces, exact for |n| < 2^9 (n x the first
    // piece is exact, so fusing changes nothing there).
    var r = clamped.addingProduct(nf, -0.693_359_375)
    r = r.addingProduct(nf, 2.121_944_4e-4)
    // e^r = 1 + r (1 + r p(r)), p of degree 4 in Horner's scheme (see
    // log1pUnit). On |r| <= ln 2 / 2 its relative error is 3.8e-9 (with the
    // coefficients rounded to float), a sixteenth of float32's rounding, so
    // Cephes' degree 5 bought nothing but two multiplies. In float32
    // arithmetic: 0.74 ulp on that interval, and exp within 0.91 ulp over
    // its whole range (Cephes' polynomial in Estrin's scheme: 1.1 and 1.28).
    // The coefficients are a minimax fit (Lawson's weighted least squares).
    var p: Float = 1.381_461_276e-3
    p = Float(8.368_710_056e-3).addingProduct(p, r)
    p = Float(4.166_838_899e-2).addingProduct(p, r)
    p = Float(1.666_652_113e-1).addingProduct(p, r)
    p = Float(4.999_999_404e-1).addingProduct(p, r)
    p = Float(1).addingProduct(p, r)
    return (biased, Float(1).addingProduct(p, r))
  }

  /// 2^(biased - 127) for biased in [1, 254], a normal power of two.
  @inlinable @inline(__always)
  static func powerOfTwo(biased: Int32) -> Float {
    Float(bitPattern: UInt32(bitPattern: biased << 23))
  }

  /// e^x. Inputs below -104 give 0 (or the nearest subnormal), above 88.7
  /// +infinity; NaN gives NaN. No branch, no trap on any input.
  @inlinable @inline(__always)
  static func exp(_ x: Float) -> Float {
    let (biased, poly) = expReduced(x < -104 ? -104 : (x > 89 ? 89 : x))
    // 2^n as two normal powers of two, so that n down to -252 (subnormal
    // results) and up to 254 scale without leaving the exponent range.
    let n = biased &- 127
    let half = n >> 1
    let result = poly * powerOfTwo(biased: half &+ 127) * powerOfTwo(biased: n &- half &+ 127)
    return x != x ? x : result
  }

  /// e^x for x <= 0, flushing results below 2^-126 to 0; NaN gives NaN.
  /// (x - max in a softmax, -|z| in a sigmoid: never positive, so only the
  /// lower clamp is needed. It is written so that it compiles to one max
  /// instruction that passes a NaN through, and the NaN then propagates
  /// through the arithmetic.)
  @inlinable @inline(__always)
  static func expNonPositive(_ x: Float) -> Float {
    let (biased, poly) = expReduced(x < -87.33 ? -87.33 : x)
    // n is in [-126, 0] for x <= 0, so 2^n is one normal power of two.
    let result = poly * powerOfTwo(biased: biased)
    return x < -87.33 ? 0 : result
  }

  /// The natural logarithm for finite x > 0 (0 gives -infinity, infinity
  /// gives infinity, negative or NaN gives NaN).
  @inlinable @inline(__always)
  static func log(_ x: Float) -> Float {
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)); subnormals are scaled first.
    let tiny = x < Float.leastNormalMagnitude
    let v = tiny ? x * 16_777_216 : x
    let bits = Int32(bitPattern: v.bitPattern)
    var e = ((bits >> 23) & 0xFF) &- 126
    var m = Float(bitPattern: UInt32(bitPattern: (bits & 0x007F_FFFF) | 0x3F00_0000))  // [0.5, 1)
    let small = m < 0.707_106_77
    e = small ? e &- 1 : e
    m = small ? m + m - 1 : m - 1
    let z = m * m
    var p: Float = 7.037_683_6e-2
    p = Float(-1.151_461e-1).addingProduct(p, m)
    p = Float(1.167_699_9e-1).addingProduct(p, m)
    p = Float(-1.242_014_1e-1).addingProduct(p, m)
    p = Float(1.424_932_3e-1).addingProduct(p, m)
    p = Float(-1.666_805_8e-1).addingProduct(p, m)
    p = Float(2.000_071_5e-1).addingProduct(p, m)
    p = Float(-2.499_999_4e-1).addingProduct(p, m)
    p = Float(3.333_333_1e-1).addingProduct(p, m)
    var y = p * m * z
    let ef = Float(e) - (tiny ? 24 : 0)
    y = y + ef * -2.121_944_4e-4
    y = y - 0.5 * z
    let result = m + y + ef * 0.693_359_375
    // Edge cases, as selects so that the loop stays vectorised.
    return x > 0 ? (x == .infinity ? x : result) : (x == 0 ? -.infinity : .nan)
  }

  /// The largest of n contiguous floats, in two vectors of eight running
  /// maxima; NaNs are passed over. (Eight scalar running maxima, left to
  /// the compiler to vectorise, became 128-bit maxima behind four shuffles
  /// per eight values: a fifth of the pass on 512 x 1000 logits in cache.
  /// The same loop on a generic SIMD8<T> ran ten times slower.)
  @inlinable @inline(__always)
  static func contiguousMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a = SIMD8<Float>(repeating: -.infinity), b = a
    var c = 0
    let raw = UnsafeRawPointer(x)
    while c &+ 16 <= n {
      let u = raw.loadUnaligned(fromByteOffset: c &* 4, as: SIMD8<Float>.self)
      let v = raw.loadUnaligned(fromByteOffset: (c &+ 8) &* 4, as: SIMD8<Float>.self)
      a.replace(with: u, where: u .> a)
      b.replace(with: v, where: v .> b)
      c &+= 16
    }
    a.replace(with: b, where: b .> a)
    var m = a.max()
    while c < n {
      if x[c] > m { m = x[c] }
      c &+= 1
    }
    return m
  }
}
