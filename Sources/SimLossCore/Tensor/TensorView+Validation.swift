/// Checks between views that every loss needs; each throws a message naming
/// both arguments and their shapes.
extension TensorView {
  /// Throws `.rank` unless the view has the given rank; `what` says what the
  /// dimensions mean, e.g. "(N, C, H, W)".
  @inlinable
  public func requireRank(_ expected: Int, _ what: String) throws {
    guard rank == expected else {
      throw SimLossError(
        .rank, "\(name): expected rank \(expected) \(what), got rank \(rank) with shape \(describe(shape: shape))")
    }
  }

  /// Throws `.shapeMismatch` unless `other` has this view's shape.
  @inlinable
  public func requireSameShape<E>(as other: TensorView<E>) throws {
    guard shape == other.shape else {
      throw SimLossError(
        .shapeMismatch,
        "\(other.name): shape \(describe(shape: other.shape)) does not match \(name) shape \(describe(shape: shape))")
    }
  }

  /// This view broadcast to `shape` (numpy rules on equal ranks: every
  /// dimension equals the target's or is 1, which then gets stride 0).
  @inlinable
  public func broadcast(to target: [Int]) throws -> TensorView {
    guard shape.count == target.count,
      zip(shape, target).allSatisfy({ $0 == $1 || $0 == 1 })
    else {
      throw SimLossError(
        .shapeMismatch,
        "\(name): shape \(describe(shape: shape)) cannot broadcast to \(describe(shape: target)); "
          + "each dimension must be equal or 1")
    }
    let newStrides = zip(shape, strides).enumerated().map { d, pair in
      pair.0 == target[d] ? pair.1 : 0
    }
    return TensorView(unchecked: self, shape: target, strides: newStrides)
  }

  /// Throws `.overlap` unless every element a write reaches is
  /// distinct (no zero stride, no two index tuples at one address). The
  /// check is the sufficient one libraries use: sort dimensions by |stride|;
  /// each stride must exceed the reach of all smaller ones.
  ///
  /// Not inlinable: inlined into SimLossAVX512, its sort became a copy
  /// compiled for AVX-512 under the name of the baseline's copy
  /// (Tests/c/check_kernels.py).
  public func requireWritable() throws {
    let dims = shape.indices.filter { shape[$0] > 1 }.sorted { abs(strides[$0]) < abs(strides[$1]) }
    var reach = 0
    for d in dims {
      let s = abs(strides[d])
      guard s > reach else {
        throw SimLossError(
          .overlap,
          "\(name): strides \(describe(shape: strides)) for shape \(describe(shape: shape)) "
            + "make elements share memory; an output needs distinct elements")
      }
      reach += s * (shape[d] - 1)
    }
  }

  /// Throws `.overlap` if the memory this view reaches intersects the memory
  /// `other` reaches. Both spans are address intervals, so interleaved but
  /// disjoint views are also refused: outputs must not share a buffer with
  /// inputs, or with each other (`other` is then named as an `"output"`).
  @inlinable
  public func requireNoOverlap<E>(with other: TensorView<E>, otherRole: String = "input") throws {
    let a0 = UInt(bitPattern: origin + lowestOffset)
    let a1 = UInt(bitPattern: origin + highestOffset) + UInt(MemoryLayout<Element>.stride)
    let b0 = UInt(bitPattern: other.origin + other.lowestOffset)
    let b1 = UInt(bitPattern: other.origin + other.highestOffset) + UInt(MemoryLayout<E>.stride)
    guard a1 <= b0 || b1 <= a0 else {
      throw SimLossError(.overlap, "\(name): output memory overlaps \(otherRole) \(other.name)")
    }
  }

  /// The multi-index and value of the first element, in logical (row-major)
  /// order, for which `isBad` holds; nil when there is none. The slow path
  /// that names an offending element after a fast pass has found one.
  @inlinable
  public func firstElement(where isBad: (Element) -> Bool) -> (index: [Int], value: Element)? {
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<count {
      var offset = 0
      for d in shape.indices { offset += index[d] * strides[d] }
      if isBad(origin[offset]) { return (index, origin[offset]) }
      var d = shape.count - 1
      while d >= 0 {
        index[d] += 1
        if index[d] < shape[d] { break }
        index[d] = 0
        d -= 1
      }
    }
    return nil
  }
}
