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

  @inlinable
  init(shape: [Int]) {
    samples = shape[0]
    rowLength = shape.count >= 2 ? shape[shape.count - 1] : 1
    middle = shape.count >= 3 ? Array(shape[1..<(shape.count - 1)]) : []
    rows = middle.reduce(1, &*)
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
