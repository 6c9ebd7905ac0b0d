import Testing

@testable import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

/// The vectorisable Double exp, log and log1p of Support/FastMathDouble.swift
/// against Float80's expl, logl and log1pl (11 more bits than Double), on
/// dense grids and pseudo-random points of their domains.
@Suite struct FastMathDoubleTests {
  /// |got - exact| in units in the last place of the exact value as a
  /// Double (for a subnormal value, the smallest subnormal).
  func ulps(_ got: Double, _ exact: Float80) -> Double {
    let rounded = Double(exact)
    return Double(abs(Float80(got) - exact) / Float80(rounded.ulp))
  }

  /// The largest error of `f` against `exact` over `xs`, in ulp, and where.
  func worst(_ xs: [Double], _ f: (Double) -> Double, _ exact: (Float80) -> Float80) -> (ulps: Double, at: Double) {
    var result = (ulps: 0.0, at: 0.0)
    for x in xs {
      let e = ulps(f(x), exact(Float80(x)))
      if e > result.ulps { result = (e, x) }
    }
    return result
  }

  /// Points spread over [low, high]: a grid of `count` steps, and as many
  /// pseudo-random points (a fixed linear congruential sequence).
  func points(_ low: Double, _ high: Double, count: Int) -> [Double] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var out: [Double] = []
    out.reserveCapacity(2 * count + 1)
    for k in 0...count { out.append(low + (high - low) * Double(k) / Double(count)) }
    for _ in 0..<count {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      out.append(low + (high - low) * Double(state >> 11) * 0x1p-53)
    }
    return out
  }

  @Test func test_exp_within_1_ulp() {
    // Normal results, and the subnormal ones down to 2^-1074.
    let (e, at) = worst(points(-708, 709.7, count: 400_000) + points(-745, -708, count: 20_000), FastMath.exp, expl)
    #expect(e <= 1, "worst \(e) ulp at \(at)")
  }

  @Test func test_exp_edge_cases() {
    #expect(FastMath.exp(-Double.infinity) == 0)
    #expect(FastMath.exp(Double.infinity) == .infinity)
    #expect(FastMath.exp(Double.nan).isNaN)
    #expect(FastMath.exp(0.0) == 1)
    #expect(FastMath.exp(709.8) == .infinity)
    #expect(FastMath.exp(709.78).isFinite)
    #expect(FastMath.exp(-746.0) == 0)
    #expect(FastMath.exp(-745.0) == Double.leastNonzeroMagnitude)
  }

  @Test func test_exp_non_positive_within_1_ulp_and_flushes_below_double_min() {
    let (e, at) = worst(
      points(-708.39, 0, count: 400_000) + points(-1e-3, 0, count: 20_000), FastMath.expNonPositive, expl)
    #expect(e <= 1, "worst \(e) ulp at \(at)")
    #expect(FastMath.expNonPositive(0.0) == 1)
    #expect(FastMath.expNonPositive(-709.0) == 0)
    #expect(FastMath.expNonPositive(-Double.infinity) == 0)
    #expect(FastMath.expNonPositive(Double.nan).isNaN)
  }

  @Test func test_log_within_1_ulp() {
    // Every binade's mantissas, from subnormals to the largest finite.
    var xs: [Double] = []
    for m in points(1, 2, count: 2_000) {
      var scale = 0x1p-1074
      while scale < 0x1p1023 {
        xs.append(m * scale)
        scale *= 0x1p7
      }
    }
    // Near 1, where log is small and a relative error shows most.
    xs += (points(0.5, 2, count: 400_000) + points(1 - 1e-6, 1 + 1e-6, count: 20_000)).filter { $0 != 1 }
    let (e, at) = worst(xs, FastMath.log, logl)
    #expect(e <= 1, "worst \(e) ulp at \(at)")
  }

  @Test func test_log_edge_cases() {
    #expect(FastMath.log(0.0) == -.infinity)
    #expect(FastMath.log(-1.0).isNaN)
    #expect(FastMath.log(Double.nan).isNaN)
    #expect(FastMath.log(Double.infinity) == .infinity)
    #expect(FastMath.log(1.0) == 0)
    #expect(FastMath.log(Double.greatestFiniteMagnitude).isFinite)
  }

  @Test func test_log1p_unit_within_1_ulp() {
    var xs = points(0, 1, count: 400_000).filter { $0 > 0 }
    var x = 0x1p-1070
    while x < 1e-3 {
      xs += [x, x * 1.37]
      x *= 2
    }
    let (e, at) = worst(xs, { FastMath.log1pUnit($0) }, log1pl)
    #expect(e <= 1, "worst \(e) ulp at \(at)")
    #expect(FastMath.log1pUnit(0.0) == 0)
    #expect(FastMath.log1pUnit(1e-300) == 1e-300)
    #expect(FastMath.log1pUnit(1.0) == 0.693_147_180_559_945_3)
    #expect(FastMath.log1pUnit(Double.nan).isNaN)
    // The sum: a + log1p(x) within an ulp.
    #expect(abs(FastMath.log1pUnit(0.25, plus: 3) - Double(3 + log1pl(0.25))) <= (3.25).ulp)
  }
}
