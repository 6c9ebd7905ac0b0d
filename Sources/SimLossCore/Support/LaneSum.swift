/// Sums `term(0) + ... + term(n - 1)` in an order fixed by the source: term
/// i goes to lane i mod 16 of sixteen running sums (two vectors of eight,
/// so that two chains of additions overlap their latency), which are then
/// added pairwise. The compiler vectorises this as written (no
/// reassociation is licensed), so a sum is bitwise the same for every
/// layout, stride, thread count and CPU target, and still runs at SIMD
/// speed.
///
/// `term` is called exactly once per index, in increasing order; it may
/// have side effects (the gradient kernels write through it).
@inlinable @inline(__always)
func laneSum(_ n: Int, _ term: (Int) -> Double) -> Double {
  var acc = SIMD8<Double>(), acc2 = SIMD8<Double>()
  var i = 0
  while i &+ 16 <= n {
    acc += SIMD8<Double>(
      term(i), term(i &+ 1), term(i &+ 2), term(i &+ 3),
      term(i &+ 4), term(i &+ 5), term(i &+ 6), term(i &+ 7))
    acc2 += SIMD8<Double>(
      term(i &+ 8), term(i &+ 9), term(i &+ 10), term(i &+ 11),
      term(i &+ 12), term(i &+ 13), term(i &+ 14), term(i &+ 15))
    i &+= 16
  }
  // The last n mod 16 terms go to their lanes through memory, one scalar
  // store each, and are loaded as two vectors once. (Inserted one at a
  // time into a vector by a run-time lane index, each insertion stored the
  // vector, patched one lane and loaded it back, waiting on the failed
  // store forwarding: 60% of MSE on (262144, 4), whose rows are all tail.)
  var tail = (SIMD8<Double>(), SIMD8<Double>())
  if i < n {
    withUnsafeMutableBytes(of: &tail) { raw in
      let lanes = raw.baseAddress!.assumingMemoryBound(to: Double.self)
      var lane = 0
      while i < n {
        lanes[lane] = term(i)
        i &+= 1
        lane &+= 1
      }
    }
  }
  acc += tail.0
  acc2 += tail.1
  acc += acc2
  return pairwiseSum(acc)
}

/// ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7)): the fixed order in
/// which laneSum and log1pSum add their lanes.
@inlinable @inline(__always)
func pairwiseSum(_ v: SIMD8<Double>) -> Double {
  ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

/// laneSum for n <= 8, the terms kept in registers: each lane as laneSum
/// forms it, (0 + t) + 0, then `pairwiseSum`, so the same bits. For rows of
/// a few elements ((N, 4) boxes), where laneSum's tail through memory
/// waits on a failed store forwarding per row. Kept out of laneSum itself:
/// there, the conditional calls made the compiler outline laneSum's
/// specialisations under names check_kernels.py rejects.
@inlinable @inline(__always)
func shortLaneSum(_ n: Int, _ term: (Int) -> Double) -> Double {
  @inline(__always) func lane(_ k: Int) -> Double { k < n ? (0 + term(k)) + 0 : 0 }
  let l0 = lane(0), l1 = lane(1), l2 = lane(2), l3 = lane(3)
  let l4 = lane(4), l5 = lane(5), l6 = lane(6), l7 = lane(7)
  return ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
}
