// TensorView: what its initialisers accept and refuse (TensorView.swift,
// "- Throws:"), broadcasting, and the checks outputs get
// (TensorView+Validation.swift). Each refusal asserts the kind and the parts
// of the message that name the argument and the offending values.
import SimLossCore
import Testing

@Suite struct TensorViewTests {
  // MARK: Accepted views

  /// Default strides are dense row-major; count and rank follow the shape.
  @Test(arguments: Element.allCases)
  func test_tensor_dense_default_strides(_ element: Element) throws {
    try checkDenseDefault(element.type)
  }

  func checkDenseDefault<T: SimLossFloat>(_: T.Type) throws {
    var storage = [T](repeating: 0, count: 24)
    try withBuffers(&storage) { buffer in
      let v = try TensorView(name: "x", buffer: buffer, shape: [2, 3, 4])
      #expect(v.name == "x")
      #expect(v.shape == [2, 3, 4])
      #expect(v.strides == [12, 4, 1])
      #expect(v.rank == 3)
      #expect(v.count == 24)
      let r = try TensorView(name: "r", buffer: UnsafeBufferPointer(buffer), shape: [24])
      #expect(r.strides == [1])
      let eight = try TensorView(name: "e", buffer: buffer, shape: [1, 2, 1, 3, 1, 2, 1, 2])
      #expect(eight.rank == TensorView<T>.maxRank)
      #expect(eight.strides == [24, 12, 12, 4, 4, 2, 2, 1])
    }
  }

  /// A view may start anywhere in the buffer and run backwards, as long as
  /// everything it reaches is inside; exactly filling the buffer is fine.
  @Test func test_tensor_accepts_offsets_and_negative_strides() throws {
    var storage = [Double](repeating: 0, count: 12)
    try withBuffers(&storage) { buffer in
      _ = try TensorView(name: "x", buffer: buffer, offset: 11, shape: [3, 4], strides: [-4, -1])
      _ = try TensorView(name: "x", buffer: buffer, offset: 8, shape: [3, 4], strides: [-4, 1])
      _ = try TensorView(name: "x", buffer: buffer, offset: 3, shape: [3, 4], strides: [4, -1])
      _ = try TensorView(name: "x", buffer: buffer, offset: 5, shape: [2, 3], strides: [1, 2])
      _ = try TensorView(name: "x", buffer: buffer, offset: 11, shape: [1], strides: [1])
      // Zero strides reach one element whatever the extent.
      let b = try TensorView(name: "x", buffer: buffer, offset: 11, shape: [1000, 1000], strides: [0, 0])
      #expect(b.count == 1_000_000)
    }
  }

  /// Broadcast views may have up to maxElements = 2^40 elements, not one
  /// more.
  @Test func test_tensor_max_elements() throws {
    #expect(TensorView<Float>.maxElements == 1 << 40)
    var storage: [Float] = [1]
    try withBuffers(&storage) { buffer in
      let v = try TensorView(name: "x", buffer: buffer, shape: [1 << 20, 1 << 20], strides: [0, 0])
      #expect(v.count == 1 << 40)
      expectError(.overflow, "x: shape (1048576, 1048577) has more than 2^40 elements (SIMLOSS_MAX_ELEMENTS)") {
        try TensorView(name: "x", buffer: buffer, shape: [1 << 20, (1 << 20) + 1], strides: [0, 0])
      }
      // Dense strides that fit in Int, for too many elements.
      expectError(.overflow, "x: shape (2097152, 2097152) has more than 2^40 elements") {
        try TensorView(name: "x", buffer: buffer, shape: [1 << 21, 1 << 21])
      }
    }
  }

  // MARK: Refused views

  @Test func test_tensor_refuses_null_buffer() {
    let empty = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    expectError(.nullPointer, "pred: data pointer is NULL") {
      try TensorView(name: "pred", buffer: empty, shape: [1])
    }
    expectError(.nullPointer, "target: data pointer is NULL") {
      try TensorView(name: "target", buffer: UnsafeBufferPointer(empty), shape: [1])
    }
  }

  /// A buffer with storage but no element cannot hold any view.
  @Test func test_tensor_refuses_empty_buffer() throws {
    var storage: [Double] = [0]
    withBuffers(&storage) { buffer in
      let empty = UnsafeMutableBufferPointer(rebasing: buffer[0..<0])
      expectError(.outOfBounds, "x: buffer length 0 holds no element") {
        try TensorView(name: "x", buffer: empty, shape: [1])
      }
    }
  }

  @Test func test_tensor_refuses_rank_outside_1_to_8() {
    var storage = [Float](repeating: 0, count: 4)
    withBuffers(&storage) { buffer in
      expectError(.rank, "x: rank 0 is outside 1...8") {
        try TensorView(name: "x", buffer: buffer, shape: [])
      }
      expectError(.rank, "x: rank 9 is outside 1...8") {
        try TensorView(name: "x", buffer: buffer, shape: [1, 1, 1, 1, 1, 1, 1, 1, 1])
      }
      expectError(.rank, "x: 1 strides for rank 2") {
        try TensorView(name: "x", buffer: buffer, shape: [2, 2], strides: [1])
      }
      expectError(.rank, "x: 3 strides for rank 2") {
        try TensorView(name: "x", buffer: buffer, shape: [2, 2], strides: [2, 1, 1])
      }
    }
  }

  @Test func test_tensor_refuses_dimensions_below_1() {
    var storage = [Float](repeating: 0, count: 4)
    withBuffers(&storage) { buffer in
      expectError(.invalidShape, "x: dimension 1 of shape (2, 0, 2) is 0; every dimension must be >= 1") {
        try TensorView(name: "x", buffer: buffer, shape: [2, 0, 2])
      }
      expectError(.invalidShape, "weight: dimension 0 of shape (-3) is -3") {
        try TensorView(name: "weight", buffer: buffer, shape: [-3], strides: [1])
      }
    }
  }

  /// Every element the view reaches must lie in the buffer, whatever the
  /// sign of the strides; the message gives the range reached.
  @Test func test_tensor_refuses_out_of_bounds() {
    var storage = [Double](repeating: 0, count: 12)
    withBuffers(&storage) { buffer in
      expectError(.outOfBounds, "x: shape (3, 5) with strides (5, 1) and offset 0 reaches elements 0...14, outside the buffer of 12 elements") {
        try TensorView(name: "x", buffer: buffer, shape: [3, 5])
      }
      expectError(.outOfBounds, "reaches elements 1...12", "offset 1") {
        try TensorView(name: "x", buffer: buffer, offset: 1, shape: [3, 4])
      }
      expectError(.outOfBounds, "x: shape (3, 4) with strides (-4, -1) and offset 10 reaches elements -1...10") {
        try TensorView(name: "x", buffer: buffer, offset: 10, shape: [3, 4], strides: [-4, -1])
      }
      expectError(.outOfBounds, "strides (-1) and offset 0 reaches elements -2...0") {
        try TensorView(name: "x", buffer: buffer, shape: [3], strides: [-1])
      }
      expectError(.outOfBounds, "offset -1 reaches elements -1...-1") {
        try TensorView(name: "x", buffer: buffer, offset: -1, shape: [1])
      }
      expectError(.outOfBounds, "offset 12 reaches elements 12...12") {
        try TensorView(name: "x", buffer: buffer, offset: 12, shape: [1])
      }
      expectError(.outOfBounds, "strides (0, 6) and offset 0 reaches elements 0...12") {
        try TensorView(name: "x", buffer: buffer, shape: [5, 3], strides: [0, 6])
      }
    }
  }

  /// Sizes and offsets that overflow Int are refused as `.overflow`, never
  /// wrapped into a small in-bounds range.
  @Test func test_tensor_refuses_overflow() {
    var storage = [Float](repeating: 0, count: 4)
    withBuffers(&storage) { buffer in
      expectError(.overflow, "x: shape (4294967296, 4294967296) has more elements than fit in 64 bits") {
        try TensorView(name: "x", buffer: buffer, shape: [1 << 32, 1 << 32])
      }
      expectError(.overflow, "x: shape (3) with strides (4611686018427387904) overflows 64-bit sizes") {
        try TensorView(name: "x", buffer: buffer, shape: [3], strides: [1 << 62])
      }
      expectError(.overflow, "overflows 64-bit sizes") {
        try TensorView(name: "x", buffer: buffer, shape: [1 << 32, 1 << 32], strides: [0, 0])
      }
      expectError(.overflow, "x: strides (9223372036854775807, 9223372036854775807) reach beyond 64-bit offsets") {
        try TensorView(name: "x", buffer: buffer, shape: [2, 2], strides: [Int.max, Int.max])
      }
      expectError(.overflow, "reach beyond 64-bit offsets") {
        try TensorView(name: "x", buffer: buffer, shape: [2, 2], strides: [Int.min + 1, Int.min + 1])
      }
      expectError(.overflow, "x: offset 9223372036854775807 plus the strides' reach overflows") {
        try TensorView(name: "x", buffer: buffer, offset: Int.max, shape: [2], strides: [1])
      }
      expectError(.overflow, "x: offset -9223372036854775808 plus the strides' reach overflows") {
        try TensorView(name: "x", buffer: buffer, offset: Int.min, shape: [2], strides: [-1])
      }
      // A buffer whose byte size does not fit in Int (never dereferenced).
      let huge = UnsafeMutableBufferPointer(start: buffer.baseAddress, count: Int.max / 4 + 1)
      expectError(.overflow, "x: buffer length 2305843009213693952 elements overflows a byte count") {
        try TensorView(name: "x", buffer: huge, shape: [1])
      }
    }
  }

  // MARK: Broadcasting

  /// Dimensions of extent 1 get stride 0; the others keep theirs.
  @Test(arguments: Element.allCases)
  func test_tensor_broadcast(_ element: Element) throws {
    try checkBroadcast(element.type)
  }

  func checkBroadcast<T: SimLossFloat>(_: T.Type) throws {
    var storage = [T](repeating: 0, count: 6)
    try withBuffers(&storage) { buffer in
      let w = try TensorView(name: "weight", buffer: buffer, shape: [1, 3, 1, 2])
      let b = try w.broadcast(to: [4, 3, 5, 2])
      #expect(b.shape == [4, 3, 5, 2])
      #expect(b.strides == [0, 2, 0, 1])
      #expect(b.name == "weight")
      let same = try w.broadcast(to: [1, 3, 1, 2])
      #expect(same.strides == w.strides)
      expectError(.shapeMismatch, "weight: shape (1, 3, 1, 2) cannot broadcast to (4, 2, 5, 2); each dimension must be equal or 1") {
        try w.broadcast(to: [4, 2, 5, 2])
      }
      expectError(.shapeMismatch, "weight: shape (1, 3, 1, 2) cannot broadcast to (3, 2)") {
        try w.broadcast(to: [3, 2])
      }
      // numpy would prepend dimensions; simloss wants equal ranks.
      let v = try TensorView(name: "weight", buffer: buffer, shape: [3, 2])
      expectError(.shapeMismatch, "weight: shape (3, 2) cannot broadcast to (4, 3, 2)") {
        try v.broadcast(to: [4, 3, 2])
      }
    }
  }

  // MARK: Checks on views

  @Test func test_tensor_require_rank_and_shape() throws {
    var storage = [Float](repeating: 0, count: 24)
    try withBuffers(&storage) { buffer in
      let x = try TensorView(name: "x", buffer: buffer, shape: [2, 3, 4])
      try x.requireRank(3, "(N, H, W)")
      expectError(.rank, "x: expected rank 4 (N, C, H, W), got rank 3 with shape (2, 3, 4)") {
        try x.requireRank(4, "(N, C, H, W)")
      }
      let y = try TensorView(name: "target", buffer: buffer, shape: [2, 3, 4])
      try x.requireSameShape(as: y)
      let z = try TensorView(name: "target", buffer: buffer, shape: [2, 4, 3])
      expectError(.shapeMismatch, "target: shape (2, 4, 3) does not match x shape (2, 3, 4)") {
        try x.requireSameShape(as: z)
      }
      let w = try TensorView(name: "weight", buffer: buffer, shape: [2, 12])
      expectError(.shapeMismatch, "weight: shape (2, 12) does not match x shape (2, 3, 4)") {
        try x.requireSameShape(as: w)
      }
    }
  }

  /// Outputs need distinct elements: zero strides and strides that make two
  /// indices meet are refused; negative and permuted strides are fine.
  @Test func test_tensor_require_writable() throws {
    var storage = [Double](repeating: 0, count: 64)
    try withBuffers(&storage) { buffer in
      func writable(_ shape: [Int], _ strides: [Int], offset: Int = 0) throws {
        try TensorView(name: "grad", buffer: buffer, offset: offset, shape: shape, strides: strides).requireWritable()
      }
      try writable([2, 3], [3, 1])
      try writable([2, 3], [1, 2])
      try writable([2, 3], [-3, -1], offset: 5)
      try writable([2, 3], [-1, 2], offset: 1)
      try writable([2, 1, 3], [3, 0, 1])  // a zero stride on an extent-1 dimension
      try writable([1, 1], [0, 0])
      try writable([2, 2, 2], [4, 1, 2])
      try writable([2, 3], [10, 3])
      expectError(.overlap, "grad: strides (0, 1) for shape (2, 3) make elements share memory; an output needs distinct elements") {
        try writable([2, 3], [0, 1])
      }
      expectError(.overlap, "grad: strides (1, 1) for shape (3, 3)") {
        try writable([3, 3], [1, 1])
      }
      expectError(.overlap, "strides (2, 1) for shape (2, 3)") {
        try writable([2, 3], [2, 1])
      }
      expectError(.overlap, "strides (-2, 1) for shape (2, 3)") {
        try writable([2, 3], [-2, 1], offset: 2)
      }
    }
  }

  /// An output must not share memory with an input: intersecting address
  /// spans are refused, even interleaved views that touch no common element.
  @Test(arguments: Element.allCases)
  func test_tensor_require_no_overlap(_ element: Element) throws {
    try checkNoOverlap(element.type)
  }

  func checkNoOverlap<T: SimLossFloat>(_: T.Type) throws {
    var a = [T](repeating: 0, count: 16)
    var b = [T](repeating: 0, count: 16)
    try withBuffers(&a, &b) { a, b in
      let grad = try TensorView(name: "grad", buffer: a, shape: [2, 4])
      let pred = try TensorView(name: "pred", buffer: b, shape: [2, 4])
      try grad.requireNoOverlap(with: pred)
      // Adjacent halves of one buffer, either order and direction.
      let upper = try TensorView(name: "pred", buffer: a, offset: 8, shape: [2, 4])
      try grad.requireNoOverlap(with: upper)
      try upper.requireNoOverlap(with: grad)
      let reversed = try TensorView(name: "pred", buffer: a, offset: 15, shape: [2, 4], strides: [-4, -1])
      try grad.requireNoOverlap(with: reversed)
      expectError(.overlap, "grad: output memory overlaps input grad") {
        try grad.requireNoOverlap(with: grad)
      }
      let shifted = try TensorView(name: "target", buffer: a, offset: 7, shape: [2, 4])
      expectError(.overlap, "grad: output memory overlaps input target") {
        try grad.requireNoOverlap(with: shifted)
      }
      let backwards = try TensorView(name: "target", buffer: a, offset: 7, shape: [8], strides: [-1])
      expectError(.overlap, "grad: output memory overlaps input target") {
        try grad.requireNoOverlap(with: backwards)
      }
      let even = try TensorView(name: "grad", buffer: a, shape: [8], strides: [2])
      let odd = try TensorView(name: "pred", buffer: a, offset: 1, shape: [7], strides: [2])
      expectError(.overlap, "grad: output memory overlaps input pred") {
        try even.requireNoOverlap(with: odd)
      }
      // A broadcast input overlaps wherever its one element is.
      let scalar = try TensorView(name: "weight", buffer: a, offset: 3, shape: [1, 1]).broadcast(to: [2, 4])
      expectError(.overlap, "grad: output memory overlaps input weight") {
        try grad.requireNoOverlap(with: scalar)
      }
    }
  }
}
