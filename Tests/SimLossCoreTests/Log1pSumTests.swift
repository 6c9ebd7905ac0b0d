import Testing

@testable import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

/// Support/Log1pSum.swift: sum (a_i + log(1 + e_i)) through a product of
/// the 1 + e_i, against the sum of libm's log1p in Double.
@Suite struct Log1pSumTests {
  func reference(_ a: [Float], _ e: [Float]) -> Double {
    zip(a, e).reduce(0.0) { $0 + Double($1.0) + Glibc.log1p(Double($1.1)) }
  }

  func sum(_ a: [Float], _ e: [Float]) -> Double {
    a.withUnsafeBufferPointer { ap in e.withUnsafeBufferPointer { ep in log1pSum(a.count, ap.baseAddress!, ep.baseAddress!) } }
  }

  @Test(arguments: [1, 7, 15, 16, 17, 31, 1000, 8192 * 16 + 5])
  func test_matches_libm(n: Int) {
    var state: UInt64 = 12345
    func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24)
    }
    let a = (0..<n).map { _ in next() * 3 }
    // e from 2^-26 to 1, as the BCE kernel hands them over.
    let e = (0..<n).map { _ in Float(Glibc.exp(-Double(next()) * 18)) }
    let expected = reference(a, e)
    #expect(abs(sum(a, e) - expected) <= 1e-14 * abs(expected), "n \(n)")
  }

  /// Every factor 2: without taking exponents out as it goes, a lane's
  /// product passes the largest Double after 1024 factors.
  @Test func test_long_runs_of_large_factors_do_not_overflow() {
    let n = 100_003
    let got = sum([Float](repeating: 0, count: n), [Float](repeating: 1, count: n))
    #expect(abs(got - Double(n) * Glibc.log(2.0)) <= 1e-13 * Double(n))
  }

  @Test func test_nan_and_empty() {
    var e = [Float](repeating: 0.5, count: 40)
    // In the vector loop (the first 32) and in the tail.
    for position in [5, 33] {
      e[position] = .nan
      #expect(sum([Float](repeating: 0, count: 40), e).isNaN, "NaN at \(position)")
      e[position] = 0.5
    }
    var a = [Float](repeating: 0, count: 40)
    a[3] = .infinity
    #expect(sum(a, e) == .infinity)
    #expect(sum([], []) == 0)
  }
}
