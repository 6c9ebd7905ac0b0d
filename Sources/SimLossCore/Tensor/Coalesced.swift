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
  let shape = first.shape
  // Built innermost first.
  var merged: [Int] = []
  var strides = [[Int]](repeating: [], count: views.count)
  for d in shape.indices.reversed() where shape[d] != 1 {
    if let inner = merged.last,
      views.indices.allSatisfy({ views[$0].strides[d] == strides[$0].last! &* inner })
    {
      merged[merged.count - 1] = inner &* shape[d]
      continue
    }
    merged.append(shape[d])
    for k in views.indices { strides[k].append(views[k].strides[d]) }
  }
  if merged.isEmpty {
    merged = [1]
    for k in views.indices { strides[k] = [1] }
  }
  return views.indices.map {
    TensorView(unchecked: views[$0], shape: merged.reversed(), strides: strides[$0].reversed())
  }
}
