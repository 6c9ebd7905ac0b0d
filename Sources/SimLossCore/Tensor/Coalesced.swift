/// Views of one shape, with the dimensions that every one of them steps
/// through alike merged into one: dimension d joins the dimension after it
/// when each view's stride along d is its stride there times that
/// dimension's extent (as NumPy's iterator and PyTorch's TensorIterator
/// merge them), and dimensions of extent 1 are dropped. The elements keep
/// their row-major order, so a flat index means the same in both shapes.
///
/// Why: elementwise kernels run along a geometry's rows (RowGeometry), and
/// a dense (N, 1) or (N, 4) tensor has rows of 1 or 4 elements, each paying
/// a row's set-up; merged, it is one run of N or 4N elements, read in rows
/// of `RowGeometry.chunk`. (BCE with logits, 2^18 elements as (2^18, 1),
/// one thread: 300 cycles per element before, 2 after.)
///
/// - Returns: views of rank >= 1 over the same memory, in the order given.
@inlinable
func coalesced<T>(_ views: [TensorView<T>]) -> [TensorView<T>] {
  guard let first = views.first else { return [] }
  let (shape, strides) = coalescedDimensions(first.shape, views.map(\.strides))
  return views.indices.map { TensorView(unchecked: views[$0], shape: shape, strides: strides[$0]) }
}

/// The merge of `coalesced` on a shape and one stride list per view:
/// the merged shape (at least rank 1) and each view's merged strides.
@inlinable
func coalescedDimensions(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
  // Built innermost first.
  var merged: [Int] = []
  var mergedStrides = [[Int]](repeating: [], count: strides.count)
  for d in shape.indices.reversed() where shape[d] != 1 {
    if let inner = merged.last,
      strides.indices.allSatisfy({ strides[$0][d] == mergedStrides[$0].last! &* inner })
    {
      merged[merged.count - 1] = inner &* shape[d]
      continue
    }
    merged.append(shape[d])
    for k in strides.indices { mergedStrides[k].append(strides[k][d]) }
  }
  if merged.isEmpty {
    merged = [1]
    for k in strides.indices { mergedStrides[k] = [1] }
  }
  return (merged.reversed(), mergedStrides.map { $0.reversed() })
}
