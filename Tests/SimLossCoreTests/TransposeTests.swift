import Testing

@testable import SimLossCore

/// Support/Transpose.swift: every element lands where the definition says,
/// whole 8 x 8 tiles, the overlapping last tiles of sides that are not
/// multiples of 8, and the loops for sides of 2-7, and nothing outside the
/// destination's matrix is written.
@Suite struct TransposeTests {
  func check<T: SimLossFloat>(_: T.Type, rows: Int, columns: Int, backToBack: Bool = false, packed: Bool = false) {
    let sourceStride = backToBack ? columns : columns + 3, destinationStride = packed ? rows : rows + 5
    let source = (0..<(rows * sourceStride)).map { T($0) }
    // A sentinel in every slot, so that a stray store shows.
    var destination = [T](repeating: -1, count: columns * destinationStride)
    source.withUnsafeBufferPointer { s in
      destination.withUnsafeMutableBufferPointer { d in
        transpose(
          s.baseAddress!, sourceStride: sourceStride, rows: rows, columns: columns,
          into: d.baseAddress!, destinationStride: destinationStride,
          prefetchAhead: backToBack ? rows * sourceStride : nil, kernels: BaselineKernels.self)
      }
    }
    var wrong = 0
    for c in 0..<columns {
      for i in 0..<destinationStride {
        let expected = i < rows ? source[i * sourceStride + c] : -1
        if destination[c * destinationStride + i] != expected { wrong += 1 }
      }
    }
    #expect(wrong == 0, "\(T.self) \(rows) x \(columns) (back to back: \(backToBack), packed: \(packed)): \(wrong) wrong")
  }

  @Test(arguments: [1, 2, 3, 5, 7, 8, 9, 16, 21, 40, 64])
  func test_every_element_in_place(rows: Int) {
    // 2-7 columns back to back, or 2-7 rows into packed rows, take loops
    // of their own (gatherColumns, scatterRows).
    for columns in [1, 2, 3, 4, 5, 6, 7, 8, 10, 16, 21, 33] {
      check(Float.self, rows: rows, columns: columns)
      check(Double.self, rows: rows, columns: columns)
      // Rows back to back, and the next matrix asked for (prefetches only:
      // the copy must be the same).
      check(Float.self, rows: rows, columns: columns, backToBack: true)
      // Destination rows back to back (the gradient's way back).
      check(Float.self, rows: rows, columns: columns, packed: true)
    }
  }
}
