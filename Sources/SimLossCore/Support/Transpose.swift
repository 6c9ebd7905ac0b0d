/// Copies a `rows` x `columns` matrix whose rows are `sourceStride` apart
/// (its columns contiguous) into one whose columns are `destinationStride`
/// apart (its rows contiguous): destination[c * destinationStride + i] =
/// source[i * sourceStride + c].
///
/// The categorical kernel that runs along positions stages class-contiguous
/// logits (channels last) through scratch with it: a row of positions into
/// class-major runs, the gradient back. Whole 8 x 8 tiles go through
/// vector registers (`transposeTile`); the rest element by element. (An
/// element-by-element copy, the compiler's, took twice as long as the
/// kernel itself on (N, 21).)
///
/// `@inline(__always)`, like the helpers it calls: a copy compiled on its
/// own would carry the same name in the baseline and the AVX-512 modules
/// (KernelTarget.swift).
@inlinable @inline(__always)
func transpose<T: SimLossFloat>(
  _ source: UnsafePointer<T>, sourceStride: Int, rows: Int, columns: Int,
  into destination: UnsafeMutablePointer<T>, destinationStride: Int
) {
  let wholeRows = rows & ~7, wholeColumns = columns & ~7
  var i = 0
  while i < wholeRows {
    var c = 0
    while c < wholeColumns {
      transposeTile(
        source + (i &* sourceStride &+ c), sourceStride, destination + (c &* destinationStride &+ i), destinationStride)
      c &+= 8
    }
    i &+= 8
  }
  // The columns past the last whole tile, for every row; then the rows
  // past it, for the tiles' columns.
  for c in wholeColumns..<columns {
    let d = destination + c &* destinationStride
    for i in 0..<rows { d[i] = source[i &* sourceStride &+ c] }
  }
  for c in 0..<wholeColumns {
    let d = destination + c &* destinationStride
    for i in wholeRows..<rows { d[i] = source[i &* sourceStride &+ c] }
  }
}

/// Transposes one 8 x 8 tile in registers: three perfect unshuffles of its
/// 64 elements (each takes the even elements of every pair of rows, then
/// the odd ones) rotate each element's 6-bit index right by 3 bits, which
/// takes row i, column j to row j, column i.
@inlinable @inline(__always)
func transposeTile<T: SimLossFloat>(
  _ source: UnsafePointer<T>, _ sourceStride: Int, _ destination: UnsafeMutablePointer<T>, _ destinationStride: Int
) {
  func load(_ i: Int) -> SIMD8<T> {
    UnsafeRawPointer(source + i &* sourceStride).loadUnaligned(as: SIMD8<T>.self)
  }
  var r = (load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7))
  for _ in 0..<3 {
    let p0 = SIMD16(lowHalf: r.0, highHalf: r.1), p1 = SIMD16(lowHalf: r.2, highHalf: r.3)
    let p2 = SIMD16(lowHalf: r.4, highHalf: r.5), p3 = SIMD16(lowHalf: r.6, highHalf: r.7)
    r = (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf, p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
  }
  func store(_ v: SIMD8<T>, _ j: Int) {
    UnsafeMutableRawPointer(destination + j &* destinationStride).storeBytes(of: v, as: SIMD8<T>.self)
  }
  store(r.0, 0)
  store(r.1, 1)
  store(r.2, 2)
  store(r.3, 3)
  store(r.4, 4)
  store(r.5, 5)
  store(r.6, 6)
  store(r.7, 7)
}
