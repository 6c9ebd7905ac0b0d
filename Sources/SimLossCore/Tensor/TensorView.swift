/// A strided view of memory that the caller owns: the one way the core reads
/// and writes arrays.
///
/// Element `(i0, ..., ik)` lives at `origin[i0 * strides[0] + ... +
/// ik * strides[k]]`. The initialisers check that every element the view can
/// reach lies inside the buffer it was made from, so the kernels may index
/// freely. The view does not own or retain the memory: it is valid while the
/// caller's buffer is.
public struct TensorView<Element> {
  /// The argument name used in error messages ("pred", "target", ...).
  public let name: String
  /// Extent of each dimension, each >= 1.
  public let shape: [Int]
  /// Distance in elements between neighbours along each dimension; any sign,
  /// zero for a broadcast dimension.
  public let strides: [Int]
  /// Address of element (0, ..., 0).
  @usableFromInline let origin: UnsafeMutablePointer<Element>
  /// Offsets (in elements, from `origin`) of the lowest and highest elements
  /// the view reaches; used to detect overlapping outputs.
  @usableFromInline let lowestOffset: Int
  @usableFromInline let highestOffset: Int

  /// The largest rank a view may have (`SIMLOSS_MAX_RANK`).
  public static var maxRank: Int { 8 }

  /// The most elements a view may have, 2^40 (`SIMLOSS_MAX_ELEMENTS`).
  /// Only broadcast views (zero strides) can reach it with real memory; a
  /// computation over more would run for hours, so it is refused.
  public static var maxElements: Int { 1 << 40 }

  /// A view of `buffer` whose element (0, ..., 0) is `buffer[offset]`.
  ///
  /// - Parameters:
  ///   - name: the argument name for error messages.
  ///   - buffer: the caller's whole buffer; no element outside it is read.
  ///   - offset: index in `buffer` of element (0, ..., 0).
  ///   - shape: 1 to 8 extents, each >= 1.
  ///   - strides: one per dimension, in elements; `nil` means dense
  ///     row-major (the last dimension contiguous).
  /// - Throws: `.nullPointer` for a buffer without storage, `.rank`,
  ///   `.invalidShape`, `.overflow` when sizes overflow `Int`, and
  ///   `.outOfBounds` when the view reaches outside the buffer.
  public init(
    name: String, buffer: UnsafeMutableBufferPointer<Element>, offset: Int = 0,
    shape: [Int], strides: [Int]? = nil
  ) throws {
    guard let start = buffer.baseAddress else {
      throw SimLossError(.nullPointer, "\(name): data pointer is NULL")
    }
    guard (1...Self.maxRank).contains(shape.count) else {
      throw SimLossError(.rank, "\(name): rank \(shape.count) is outside 1...\(Self.maxRank)")
    }
    if let bad = shape.firstIndex(where: { $0 < 1 }) {
      throw SimLossError(
        .invalidShape,
        "\(name): dimension \(bad) of shape \(describe(shape: shape)) is \(shape[bad]); every dimension must be >= 1")
    }
    let strides = try strides ?? Self.denseStrides(name: name, shape: shape)
    guard strides.count == shape.count else {
      throw SimLossError(.rank, "\(name): \(strides.count) strides for rank \(shape.count)")
    }
    let (low, high) = try Self.reach(name: name, shape: shape, strides: strides)
    guard buffer.count >= 1 else {
      throw SimLossError(.outOfBounds, "\(name): buffer length \(buffer.count) holds no element")
    }
    // The byte size of the buffer must be representable, or pointer
    // arithmetic on it could wrap.
    guard buffer.count <= Int.max / MemoryLayout<Element>.stride else {
      throw SimLossError(.overflow, "\(name): buffer length \(buffer.count) elements overflows a byte count")
    }
    let (first, o1) = offset.addingReportingOverflow(low)
    let (last, o2) = offset.addingReportingOverflow(high)
    guard !o1, !o2 else {
      throw SimLossError(.overflow, "\(name): offset \(offset) plus the strides' reach overflows")
    }
    guard first >= 0, last < buffer.count else {
      throw SimLossError(
        .outOfBounds,
        "\(name): shape \(describe(shape: shape)) with strides \(describe(shape: strides)) and offset \(offset) "
          + "reaches elements \(first)...\(last), outside the buffer of \(buffer.count) elements")
    }
    self.name = name
    self.shape = shape
    self.strides = strides
    self.origin = start + offset
    self.lowestOffset = low
    self.highestOffset = high
  }

  /// A read-only view; the core never writes through views of inputs.
  public init(
    name: String, buffer: UnsafeBufferPointer<Element>, offset: Int = 0,
    shape: [Int], strides: [Int]? = nil
  ) throws {
    try self.init(
      name: name, buffer: UnsafeMutableBufferPointer(mutating: buffer), offset: offset,
      shape: shape, strides: strides)
  }

  /// Views the same memory with other strides and shape; checked by the
  /// caller (used for broadcasting, which only drops reach).
  @usableFromInline
  init(unchecked other: TensorView, shape: [Int], strides: [Int]) {
    self.name = other.name
    self.shape = shape
    self.strides = strides
    self.origin = other.origin
    self.lowestOffset = other.lowestOffset
    self.highestOffset = other.highestOffset
  }

  public var rank: Int { shape.count }

  /// The number of elements, which `init` has checked fits in `Int`.
  public var count: Int { shape.reduce(1, &*) }

  static func denseStrides(name: String, shape: [Int]) throws -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var step = 1
    for d in shape.indices.reversed() {
      strides[d] = step
      let (next, overflow) = step.multipliedReportingOverflow(by: shape[d])
      guard !overflow else {
        throw SimLossError(.overflow, "\(name): shape \(describe(shape: shape)) has more elements than fit in 64 bits")
      }
      step = next
    }
    return strides
  }

  /// The lowest and highest element offsets the view reaches from its
  /// origin, and a check that its element count fits in `Int`.
  static func reach(name: String, shape: [Int], strides: [Int]) throws -> (Int, Int) {
    var low = 0, high = 0, count = 1
    for d in shape.indices {
      let (span, o1) = (shape[d] - 1).multipliedReportingOverflow(by: strides[d])
      let (c, o2) = count.multipliedReportingOverflow(by: shape[d])
      guard !o1, !o2 else {
        throw SimLossError(
          .overflow,
          "\(name): shape \(describe(shape: shape)) with strides \(describe(shape: strides)) overflows 64-bit sizes")
      }
      count = c
      guard count <= maxElements else {
        throw SimLossError(
          .overflow,
          "\(name): shape \(describe(shape: shape)) has more than 2^40 elements (SIMLOSS_MAX_ELEMENTS)")
      }
      let (l, o3) = low.addingReportingOverflow(min(0, span))
      let (h, o4) = high.addingReportingOverflow(max(0, span))
      guard !o3, !o4 else {
        throw SimLossError(
          .overflow, "\(name): strides \(describe(shape: strides)) reach beyond 64-bit offsets")
      }
      low = l
      high = h
    }
    return (low, high)
  }
}
