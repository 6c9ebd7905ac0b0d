/// A tensor of any rank seen as `samples x rows x rowLength`: dimension 0 is
/// the sample, the last dimension (for rank >= 2) a row, and the dimensions
/// between them are flattened into a row index. Pointwise kernels run along
/// rows, whose stride is 1 in the common dense case.
@usableFromInline
struct RowGeometry {
  @usableFromInline let samples: Int
  @usableFromInline let rows: Int
  @usableFromInline let rowLength: Int
  /// Extents of the flattened middle dimensions, outermost first.
  @usableFromInline let middle: [Int]
  /// > 0 when the tensor is read as one sample of this many elements (see
  /// `init(chunking:)`).
  @usableFromInline let chunkedCount: Int

  @inlinable
  init(shape: [Int]) {
    samples = shape[0]
    rowLength = shape.count >= 2 ? shape[shape.count - 1] : 1
    middle = shape.count >= 3 ? Array(shape[1..<(shape.count - 1)]) : []
    rows = middle.reduce(1, &*)
    chunkedCount = 0
  }

  /// A tensor of `count` elements along dimension 0 and one element per
  /// sample (rank 1, or (N, 1, ..., 1)), read as a single sample in rows
  /// of `chunk` elements, the last one shorter: as one sample per element,
  /// every element was a row of its own, which neither vectorises nor
  /// spreads over threads (l1 on 2^24 float32: 305 ms against 5.7). Views
  /// are read with `strides(of:)`, rows are `length(sample:row:)` long.
  @inlinable
  init(chunking count: Int) {
    samples = 1
    rowLength = Self.chunk
    rows = (count + Self.chunk - 1) / Self.chunk
    middle = [rows]
    chunkedCount = count
  }

  /// 1024 elements keep a row's logits and BCE's prepared values in L1
  /// between its two loops: 4096 ran 1.2x slower, 256 1.03x (BCE, 2^20
  /// elements, one thread).
  @usableFromInline static var chunk: Int { 1024 }

  /// The strides to read a view with: its own, or, chunked, dimension 0's
  /// stride cut into rows.
  @inlinable
  func strides<E>(of v: TensorView<E>) -> [Int] {
    chunkedCount > 0 ? [0, Self.chunk &* v.strides[0], v.strides[0]] : v.strides
  }

  /// The elements in row `row` of sample `sample`: `rowLength`, but for a
  /// chunked tensor's last row.
  @inlinable @inline(__always)
  func length(sample: Int, row: Int) -> Int {
    chunkedCount > 0 ? Swift.min(rowLength, chunkedCount &- row &* rowLength) : rowLength
  }

  /// Offset from the origin of a view with these strides of the first
  /// element of row `row` of sample `sample`.
  @inlinable
  func offset(strides: [Int], sample: Int, row: Int) -> Int {
    var offset = sample &* strides[0]
    var rest = row
    var d = middle.count
    while d > 0 {
      let extent = middle[d &- 1]
      offset = offset &+ (rest % extent) &* strides[d]
      rest /= extent
      d &-= 1
    }
    return offset
  }

  /// The stride along a row (0 for rank 1, whose rows hold one element).
  @inlinable
  func rowStride(_ strides: [Int]) -> Int {
    strides.count >= 2 ? strides[strides.count - 1] : 0
  }
}
