/// Copies a `rows` x `columns` matrix whose rows are `sourceStride` apart
/// (its columns contiguous) into one whose columns are `destinationStride`
/// apart (its rows contiguous): destination[c * destinationStride + i] =
/// source[i * sourceStride + c].
///
/// The categorical kernel that runs along positions stages class-contiguous
/// logits (channels last) through scratch with it: a row of positions into
/// class-major runs, the gradient back. The matrix goes through vector
/// registers 8 x 8 tiles at a time (`transposeTile`). When a side is not a
/// multiple of 8, its last tile overlaps the one before it (starts 8 before
/// the end) instead of leaving a remainder to copy element by element:
/// the overlap stores the same values twice, and no load or store leaves
/// the matrix. (The element-by-element remainder took a fifth of
/// (8, 128, 128, 21)'s forward+backward, one thread: 5 of its 21 classes.)
/// A side of 2-7 that is back to back (few classes) goes through loops of
/// its own (`gatherColumns`, `scatterRows`); anything else shorter than 8
/// element by element.
///
/// `prefetchAhead`, when given, is how far (in elements) the matrix the
/// caller will transpose next lies from this one: each band of 8 rows asks
/// for the same band of that matrix as it starts (prefetchLines), so the
/// requests go out spread over the copy rather than in one burst (which
/// waited on the line-fill buffers: (8, 128, 128, 21), one thread, 3.7 ->
/// 3.1 ms forward+backward).
///
/// Generic over the kernel target (KernelTarget.swift): the compiler does
/// not always inline it (its small-column cases made it large), and a copy
/// compiled on its own must not carry the same name in the baseline and
/// the AVX-512 modules. Its helpers are small and `@inline(__always)`.
@inlinable @inline(__always)
func transpose<T: SimLossFloat, K: KernelTarget>(
  _ source: UnsafePointer<T>, sourceStride: Int, rows: Int, columns: Int,
  into destination: UnsafeMutablePointer<T>, destinationStride: Int, prefetchAhead: Int? = nil, kernels: K.Type
) {
  guard rows >= 8, columns >= 8 else {
    // A small matrix asks for all of the next at once.
    if let prefetchAhead { prefetchRows(source + prefetchAhead, rows, sourceStride, columns) }
    if columns < 8 && sourceStride == columns && columns >= 2 {
      // Few classes, back to back: class c of position i is at i C + c.
      switch columns {
      case 2: gatherColumns(source, 2, rows, destination, destinationStride)
      case 3: gatherColumns(source, 3, rows, destination, destinationStride)
      case 4: gatherColumns(source, 4, rows, destination, destinationStride)
      case 5: gatherColumns(source, 5, rows, destination, destinationStride)
      case 6: gatherColumns(source, 6, rows, destination, destinationStride)
      default: gatherColumns(source, 7, rows, destination, destinationStride)
      }
      return
    }
    if rows < 8 && destinationStride == rows && rows >= 2 {
      switch rows {
      case 2: scatterRows(source, sourceStride, 2, columns, destination)
      case 3: scatterRows(source, sourceStride, 3, columns, destination)
      case 4: scatterRows(source, sourceStride, 4, columns, destination)
      case 5: scatterRows(source, sourceStride, 5, columns, destination)
      case 6: scatterRows(source, sourceStride, 6, columns, destination)
      default: scatterRows(source, sourceStride, 7, columns, destination)
      }
      return
    }
    for c in 0..<columns {
      let d = destination + c &* destinationStride
      for i in 0..<rows { d[i] = source[i &* sourceStride &+ c] }
    }
    return
  }
  let lastRow = rows &- 8, lastColumn = columns &- 8
  var i = 0
  while true {
    if let prefetchAhead { prefetchRows(source + (i &* sourceStride &+ prefetchAhead), 8, sourceStride, columns) }
    var c = 0
    while true {
      transposeTile(
        source + (i &* sourceStride &+ c), sourceStride, destination + (c &* destinationStride &+ i), destinationStride)
      if c == lastColumn { break }
      c = Swift.min(c &+ 8, lastColumn)
    }
    if i == lastRow { break }
    i = Swift.min(i &+ 8, lastRow)
  }
}

/// Asks for `rows` rows of `columns` elements, `stride` apart: one run when
/// they are back to back; otherwise each row's columns, not the gaps
/// between them.
@inlinable @inline(__always)
func prefetchRows<T>(_ p: UnsafePointer<T>, _ rows: Int, _ stride: Int, _ columns: Int) {
  if stride == columns {
    prefetchLines(p, bytes: rows &* columns &* MemoryLayout<T>.stride)
  } else {
    for i in 0..<rows { prefetchLines(p + i &* stride, bytes: columns &* MemoryLayout<T>.stride) }
  }
}

/// Transposes one 8 x 8 tile in registers, in the three steps of the usual
/// AVX form: interleave pairs of rows element by element, then pairs of
/// elements, then take 4-element halves. Each step is written as the
/// vector it builds, element by element, which the compiler turns into one
/// shuffle instruction (unpck, shufps, vinsertf128/vperm2f128), 24 in all
/// for float. (An earlier form, three rounds of SIMD16 evenHalf/oddHalf,
/// compiled to 48 shuffles of 128-bit halves.)
@inlinable @inline(__always)
func transposeTile<T: SimLossFloat>(
  _ source: UnsafePointer<T>, _ sourceStride: Int, _ destination: UnsafeMutablePointer<T>, _ destinationStride: Int
) {
  typealias V = SIMD8<T>
  func load(_ i: Int) -> V {
    UnsafeRawPointer(source + i &* sourceStride).loadUnaligned(as: V.self)
  }
  func store(_ v: V, _ j: Int) {
    UnsafeMutableRawPointer(destination + j &* destinationStride).storeBytes(of: v, as: V.self)
  }
  // Elements 0, 1 (low) or 2, 3 (high) of each 4-element half, a's and b's
  // alternating.
  func interleaveLow(_ a: V, _ b: V) -> V { V(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
  func interleaveHigh(_ a: V, _ b: V) -> V { V(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
  // Pairs 0 (low) or 1 (high) of each half: a's pair, then b's.
  func pairsLow(_ a: V, _ b: V) -> V { V(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }
  func pairsHigh(_ a: V, _ b: V) -> V { V(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
  func halves(_ a: V, _ b: V) -> (V, V) {
    (V(lowHalf: a.lowHalf, highHalf: b.lowHalf), V(lowHalf: a.highHalf, highHalf: b.highHalf))
  }
  let r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3)
  let r4 = load(4), r5 = load(5), r6 = load(6), r7 = load(7)
  // After interleaving, t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5].
  let t0 = interleaveLow(r0, r1), t1 = interleaveHigh(r0, r1)
  let t2 = interleaveLow(r2, r3), t3 = interleaveHigh(r2, r3)
  let t4 = interleaveLow(r4, r5), t5 = interleaveHigh(r4, r5)
  let t6 = interleaveLow(r6, r7), t7 = interleaveHigh(r6, r7)
  // After pairing, s0 = column 0 of rows 0-3 | column 4 of rows 0-3.
  let s0 = pairsLow(t0, t2), s1 = pairsHigh(t0, t2), s2 = pairsLow(t1, t3), s3 = pairsHigh(t1, t3)
  let s4 = pairsLow(t4, t6), s5 = pairsHigh(t4, t6), s6 = pairsLow(t5, t7), s7 = pairsHigh(t5, t7)
  let (c0, c4) = halves(s0, s4), (c1, c5) = halves(s1, s5)
  let (c2, c6) = halves(s2, s6), (c3, c7) = halves(s3, s7)
  store(c0, 0)
  store(c1, 1)
  store(c2, 2)
  store(c3, 3)
  store(c4, 4)
  store(c5, 5)
  store(c6, 6)
  store(c7, 7)
}

/// The transposition of `rows` rows of `columns` (2-7, a literal at each
/// call) elements back to back: with the count known, the compiler
/// vectorises the loop over rows as an interleaved load group (one vector
/// load per column's worth, then shuffles), where the 8 x 8 tiles do not
/// apply.
@inlinable @inline(__always)
func gatherColumns<T: SimLossFloat>(
  _ source: UnsafePointer<T>, _ columns: Int, _ rows: Int, _ destination: UnsafeMutablePointer<T>,
  _ destinationStride: Int
) {
  for i in 0..<rows {
    for c in 0..<columns { destination[c &* destinationStride &+ i] = source[i &* columns &+ c] }
  }
}

/// The reverse: `rows` (2-7, a literal at each call) rows of `columns`
/// elements, `sourceStride` apart, into `columns` rows of `rows` elements
/// back to back (an interleaved store group).
@inlinable @inline(__always)
func scatterRows<T: SimLossFloat>(
  _ source: UnsafePointer<T>, _ sourceStride: Int, _ rows: Int, _ columns: Int, _ destination: UnsafeMutablePointer<T>
) {
  for i in 0..<columns {
    for r in 0..<rows { destination[i &* rows &+ r] = source[r &* sourceStride &+ i] }
  }
}
