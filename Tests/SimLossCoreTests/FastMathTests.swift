import Testing

@testable import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

/// The vectorisable Float exp, log and log1p of Support/FastMath.swift,
/// against the Double functions of libm on dense grids of their domains.
@Suite struct FastMathTests {
  /// |got - exact| in units in the last place of the exact value as a Float.
  func ulps(_ got: Float, _ exact: Double) -> Double {
    abs(Double(got) - exact) / Double(Float(exact).ulp)
  }

  @Test func test_exp_within_2_ulp() {
    var worst = 0.0
    var x: Float = -87
    while x < 88.7 {
      worst = max(worst, ulps(FastMath.exp(x), Glibc.exp(Double(x))))
      x += 0.0013
    }
    #expect(worst <= 2, "worst \(worst) ulp")
  }

  @Test func test_exp_edge_cases() {
    #expect(FastMath.exp(-Float.infinity) == 0)
    #expect(FastMath.exp(Float.infinity) == .infinity)
    #expect(FastMath.exp(Float.nan).isNaN)
    #expect(FastMath.exp(Float(0)) == 1)
    #expect(FastMath.exp(Float(-104)) < Float.leastNormalMagnitude)
  }

  @Test func test_log_within_2_ulp() {
    var worst = 0.0
    var x: Float = 1e-37
    while x < 1e37 {
      let exact = Glibc.log(Double(x))
      if abs(exact) > 1e-3 { worst = max(worst, ulps(FastMath.log(x), exact)) }
      x *= 1.0007
    }
    #expect(worst <= 2, "worst \(worst) ulp")
    // Near 1 the absolute error is what matters.
    var y: Float = 0.5
    while y < 2 {
      #expect(abs(Double(FastMath.log(y)) - Glibc.log(Double(y))) < 1.5e-7)
      y += 0.001
    }
  }

  @Test func test_log_edge_cases() {
    #expect(FastMath.log(Float(0)) == -.infinity)
    #expect(FastMath.log(Float(-1)).isNaN)
    #expect(FastMath.log(Float.nan).isNaN)
    #expect(FastMath.log(Float.infinity) == .infinity)
    #expect(FastMath.log(Float(1)) == 0)
    let tiny = Float.leastNonzeroMagnitude
    #expect(abs(Double(FastMath.log(tiny)) - Glibc.log(Double(tiny))) < 1e-5)
  }

  @Test func test_log1p_unit_within_2e_minus_7() {
    var worst = 0.0
    var x: Float = 1e-30
    while x <= 1 {
      let exact = Glibc.log1p(Double(x))
      worst = max(worst, abs(Double(FastMath.log1pUnit(x)) - exact) / exact)
      x = x < 1e-3 ? x * 1.5 : x + 1e-4
    }
    #expect(worst < 2e-7, "worst relative error \(worst)")
    #expect(FastMath.log1pUnit(Float(0)) == 0)
  }
}

/// The one-step exp of non-positive arguments (softmax, sigmoid).
@Suite struct FastMathNonPositiveTests {
  @Test func test_exp_non_positive_within_2_ulp_and_flushes_below_float_min() {
    var worst = 0.0
    var x: Float = -87.3
    while x <= 0 {
      let exact = Glibc.exp(Double(x))
      worst = max(worst, abs(Double(FastMath.expNonPositive(x)) - exact) / Double(Float(exact).ulp))
      x += 0.0011
    }
    #expect(worst <= 2, "worst \(worst) ulp")
    #expect(FastMath.expNonPositive(Float(0)) == 1)
    #expect(FastMath.expNonPositive(Float(-90)) == 0)
    #expect(FastMath.expNonPositive(-Float.infinity) == 0)
    #expect(FastMath.expNonPositive(Float.nan).isNaN)
  }
}
