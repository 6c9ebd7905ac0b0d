import Testing

@testable import SimLossCore

/// Support/LaneSum.swift: the order laneSum promises (term i to lane
/// i mod 16, the two vectors of eight added, then pairwiseSum), written out
/// element by element, bitwise, for every tail length; and each term called
/// once, in increasing order. shortLaneSum against laneSum, bitwise.
@Suite struct LaneSumTests {
  func specified(_ values: [Double]) -> Double {
    var lanes = [Double](repeating: 0, count: 16)
    for (i, v) in values.enumerated() { lanes[i % 16] += v }
    let l = (0..<8).map { lanes[$0] + lanes[$0 + 8] }
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
  }

  @Test func test_order_is_the_specified_one_for_every_length() {
    var state: UInt64 = 99
    for n in 0...70 {
      // Magnitudes from 1e-8 to 1e8 and both signs: any other order of
      // additions rounds differently somewhere.
      let values = (0..<n).map { _ -> Double in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let u = Double(state >> 11) / Double(1 << 53)
        return (u - 0.5) * pow10(Int(state % 17) - 8)
      }
      var calls: [Int] = []
      let got = laneSum(n) { i in
        calls.append(i)
        return values[i]
      }
      #expect(got.bitPattern == specified(values).bitPattern, "n \(n)")
      #expect(calls == Array(0..<n), "n \(n)")
    }
  }

  /// shortLaneSum is laneSum for n <= 8, bitwise, -0.0 terms included.
  @Test func test_short_lane_sum_is_lane_sum() {
    var state: UInt64 = 7
    for n in 0...8 {
      for round in 0..<200 {
        let values = (0..<n).map { _ -> Double in
          state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
          let u = Double(state >> 11) / Double(1 << 53)
          return round % 50 == 0 ? -0.0 : (u - 0.5) * pow10(Int(state % 17) - 8)
        }
        var calls: [Int] = []
        let got = shortLaneSum(n) { i in
          calls.append(i)
          return values[i]
        }
        #expect(got.bitPattern == laneSum(n) { values[$0] }.bitPattern, "n \(n)")
        #expect(calls == Array(0..<n), "n \(n)")
      }
    }
  }

  func pow10(_ k: Int) -> Double {
    var r = 1.0
    for _ in 0..<abs(k) { r *= 10 }
    return k < 0 ? 1 / r : r
  }
}
