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
  /// > 0 when each sample's elements, this many, are cut into rows of
  /// `rowLength`, the last one shorter (`init(chunking:)`,
  /// `init(samples:perSample:rowLength:)`).
  @usableFromInline let perSample: Int
  /// Whether views are read as one sample cut along dimension 0
  /// (`init(chunking:)`, `strides(of:)`).
  @usableFromInline let chunksDimensionZero: Bool

  @inlinable
  init(shape: [Int]) {
    samples = shape[0]
    rowLength = shape.count >= 2 ? shape[shape.count - 1] : 1
    middle = shape.count >= 3 ? Array(shape[1..<(shape.count - 1)]) : []
    rows = middle.reduce(1, &*)
    perSample = 0
    chunksDimensionZero = false
  }

  /// A tensor of `count` elements along dimension 0 and one element per
  /// sample (rank 1, or (N, 1, ..., 1)), read as a single sample in rows
  /// of `chunk` elements, the last one shorter: as one sample per element,
  /// every element was a row of its own, which neither vectorises nor
  /// spreads over threads (l1 on 2^24 float32: 305 ms against 5.7). Views
  /// are read with `strides(of:)`, rows are `length(sample:row:)` long.
  @inlinable
  init(chunking count: Int) {
    self.init(samples: 1, perSample: count, rowLength: Self.chunk, chunksDimensionZero: true)
  }

  /// `samples` samples of `perSample` elements each, in rows of `rowLength`
  /// (> 0), the last row of each sample shorter when `rowLength` does not
  /// divide `perSample`: views are retiled by their owner to
  /// [samples, rows, rowLength] (the last row's nominal extent past its
  /// sample is never read), rows are `length(sample:row:)` long.
  @inlinable
  init(samples: Int, perSample: Int, rowLength: Int) {
    self.init(samples: samples, perSample: perSample, rowLength: rowLength, chunksDimensionZero: false)
  }

  /// The two above: cut samples, read with their own strides or (chunking)
  /// with dimension 0's cut into rows.
  @inlinable
  init(samples: Int, perSample: Int, rowLength: Int, chunksDimensionZero: Bool) {
    self.samples = samples
    self.rowLength = rowLength
    rows = (perSample + rowLength - 1) / rowLength
    middle = [rows]
    self.perSample = perSample
    self.chunksDimensionZero = chunksDimensionZero
  }

  /// 1024 elements keep a row's logits and BCE's prepared values in L1
  /// between its two loops: 4096 ran 1.2x slower, 256 1.03x (BCE, 2^20
  /// elements, one thread).
  @usableFromInline static var chunk: Int { 1024 }

  /// The strides to read a view with: its own, or, chunked, dimension 0's
  /// stride cut into rows.
  @inlinable
  func strides<E>(of v: TensorView<E>) -> [Int] {
    chunksDimensionZero ? [0, Self.chunk &* v.strides[0], v.strides[0]] : v.strides
  }

  /// The elements in row `row` of sample `sample`: `rowLength`, but for a
  /// cut sample's last row.
  @inlinable @inline(__always)
  func length(sample: Int, row: Int) -> Int {
    perSample > 0 ? Swift.min(rowLength, perSample &- row &* rowLength) : rowLength
  }

  /// The elements of a sample.
  @inlinable
  var sampleCount: Int { perSample > 0 ? perSample : rows &* rowLength }

  /// The index of row `row` of sample `sample`'s first element among all
  /// the elements in sample-major order: where its per-element outputs go.
  @inlinable @inline(__always)
  func flatIndex(sample: Int, row: Int) -> Int {
    sample &* sampleCount &+ row &* rowLength
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

  /// How far (in elements) row `row + 1` of `sample` starts from row `row`
  /// in a view with these strides: what a kernel prefetches a row ahead by.
  @inlinable
  func nextRowDistance(strides: [Int], sample: Int, row: Int) -> Int {
    offset(strides: strides, sample: sample, row: row &+ 1) &- offset(strides: strides, sample: sample, row: row)
  }

  /// The stride along a row (0 for rank 1, whose rows hold one element).
  @inlinable
  func rowStride(_ strides: [Int]) -> Int {
    strides.count >= 2 ? strides[strides.count - 1] : 0
  }
}
