import CSimLoss
import SimLossCore

// simloss.h, "Tensor descriptor": building descriptors, and turning a
// caller's descriptor into a checked core view.

@c @implementation
public func simloss_tensor_init_dense(
  _ tensor: UnsafeMutablePointer<simloss_tensor>?, _ data: UnsafeMutableRawPointer?, _ dtype: Int32,
  _ rank: Int32, _ shape: UnsafePointer<Int64>?
) -> simloss_status {
  abiCall {
    guard let shape else { throw SimLossError(.nullPointer, "shape is NULL") }
    guard (1...Int32(SIMLOSS_MAX_RANK)).contains(rank) else {
      throw SimLossError(.rank, "rank: \(rank) is outside 1...\(SIMLOSS_MAX_RANK)")
    }
    let extents = (0..<Int(rank)).map { Int(shape[$0]) }
    try initDense(tensor, data, dtype, shape: extents, order: Array(0..<extents.count))
  }
}

@c @implementation
public func simloss_tensor_init_nchw(
  _ tensor: UnsafeMutablePointer<simloss_tensor>?, _ data: UnsafeMutableRawPointer?, _ dtype: Int32,
  _ n: Int64, _ c: Int64, _ h: Int64, _ w: Int64
) -> simloss_status {
  abiCall { try initDense(tensor, data, dtype, shape: [Int(n), Int(c), Int(h), Int(w)], order: [0, 1, 2, 3]) }
}

@c @implementation
public func simloss_tensor_init_nhwc(
  _ tensor: UnsafeMutablePointer<simloss_tensor>?, _ data: UnsafeMutableRawPointer?, _ dtype: Int32,
  _ n: Int64, _ h: Int64, _ w: Int64, _ c: Int64
) -> simloss_status {
  // Memory order N, H, W, C; logical order N, C, H, W.
  abiCall { try initDense(tensor, data, dtype, shape: [Int(n), Int(c), Int(h), Int(w)], order: [0, 2, 3, 1]) }
}

/// Fills a descriptor of a dense buffer whose dimensions, outermost first in
/// memory, are `shape[order[0]], shape[order[1]], ...`.
func initDense(
  _ tensor: UnsafeMutablePointer<simloss_tensor>?, _ data: UnsafeMutableRawPointer?, _ dtype: Int32,
  shape: [Int], order: [Int]
) throws {
  guard let tensor else { throw SimLossError(.nullPointer, "tensor is NULL") }
  guard let data else { throw SimLossError(.nullPointer, "data is NULL") }
  _ = try elementSize(dtype, "dtype")
  if let bad = shape.firstIndex(where: { $0 < 1 }) {
    throw SimLossError(
      .invalidShape, "shape: dimension \(bad) of \(shape) is \(shape[bad]); every dimension must be >= 1")
  }
  var strides = [Int](repeating: 0, count: shape.count)
  var step = 1
  for d in order.reversed() {
    strides[d] = step
    let (next, overflow) = step.multipliedReportingOverflow(by: shape[d])
    guard !overflow else { throw SimLossError(.overflow, "shape: \(shape) has more elements than fit in 64 bits") }
    step = next
  }
  var t = simloss_tensor()
  t.data = data
  t.len = Int64(step)
  t.offset = 0
  t.dtype = dtype
  t.rank = Int32(shape.count)
  withUnsafeMutableBytes(of: &t.shape) { raw in
    for (d, extent) in shape.enumerated() { raw.storeBytes(of: Int64(extent), toByteOffset: d * 8, as: Int64.self) }
  }
  withUnsafeMutableBytes(of: &t.strides) { raw in
    for (d, stride) in strides.enumerated() { raw.storeBytes(of: Int64(stride), toByteOffset: d * 8, as: Int64.self) }
  }
  tensor.pointee = t
}

/// The size in bytes of a simloss_dtype's element.
func elementSize(_ dtype: Int32, _ name: String) throws -> Int {
  switch dtype {
  case Int32(SIMLOSS_FLOAT32.rawValue), Int32(SIMLOSS_INT32.rawValue): return 4
  case Int32(SIMLOSS_FLOAT64.rawValue), Int32(SIMLOSS_INT64.rawValue): return 8
  default:
    throw SimLossError(
      .dtype, "\(name): dtype \(dtype) is not a simloss_dtype (1 FLOAT32, 2 FLOAT64, 3 INT32, 4 INT64)")
  }
}

/// The element types a descriptor can hold, with their simloss_dtype.
protocol ABIElement {
  static var dtype: Int32 { get }
}
extension Float: ABIElement { static var dtype: Int32 { Int32(SIMLOSS_FLOAT32.rawValue) } }
extension Double: ABIElement { static var dtype: Int32 { Int32(SIMLOSS_FLOAT64.rawValue) } }
extension Int32: ABIElement { static var dtype: Int32 { Int32(SIMLOSS_INT32.rawValue) } }
extension Int64: ABIElement { static var dtype: Int32 { Int32(SIMLOSS_INT64.rawValue) } }

/// "float32", "int64", ... for messages.
func dtypeName(_ dtype: Int32) -> String {
  switch dtype {
  case 1: "float32"
  case 2: "float64"
  case 3: "int32"
  case 4: "int64"
  default: "dtype \(dtype)"
  }
}

/// The dtype of a required tensor argument, which selects the element type
/// of the whole call.
func dtype(of tensor: UnsafePointer<simloss_tensor>?, _ name: String) throws -> Int32 {
  guard let tensor else { throw SimLossError(.nullPointer, "\(name) is NULL") }
  _ = try elementSize(tensor.pointee.dtype, "\(name).dtype")
  return tensor.pointee.dtype
}

/// A checked core view of a caller's descriptor, whose dtype must be T's.
func view<T: ABIElement>(
  _ tensor: UnsafePointer<simloss_tensor>?, _ name: String, as _: T.Type
) throws -> TensorView<T> {
  guard let tensor else { throw SimLossError(.nullPointer, "\(name) is NULL") }
  let t = tensor.pointee
  if t.dtype != T.dtype {
    _ = try elementSize(t.dtype, "\(name).dtype")
    let integer = T.dtype == Int32(SIMLOSS_INT32.rawValue) || T.dtype == Int32(SIMLOSS_INT64.rawValue)
    throw SimLossError(
      integer ? .dtype : .dtypeMismatch,
      "\(name): dtype \(dtypeName(t.dtype)) differs from the call's \(dtypeName(T.dtype))")
  }
  guard let data = t.data else { throw SimLossError(.nullPointer, "\(name).data is NULL") }
  guard Int(bitPattern: data) % MemoryLayout<T>.alignment == 0 else {
    throw SimLossError(
      .invalidArgument, "\(name).data: address \(data) is not aligned to \(MemoryLayout<T>.alignment) bytes")
  }
  guard (1...Int32(SIMLOSS_MAX_RANK)).contains(t.rank) else {
    throw SimLossError(.rank, "\(name).rank: \(t.rank) is outside 1...\(SIMLOSS_MAX_RANK)")
  }
  guard t.len >= 1 else { throw SimLossError(.outOfBounds, "\(name).len: \(t.len) must be >= 1") }
  let rank = Int(t.rank)
  let shape = withUnsafeBytes(of: t.shape) { raw in (0..<rank).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) } }
  let strides = withUnsafeBytes(of: t.strides) { raw in (0..<rank).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) } }
  let buffer = UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: T.self), count: Int(t.len))
  return try TensorView(name: name, buffer: buffer, offset: Int(t.offset), shape: shape, strides: strides)
}

/// The same for an optional argument: NULL gives nil.
func optionalView<T: ABIElement>(
  _ tensor: UnsafePointer<simloss_tensor>?, _ name: String, as type: T.Type
) throws -> TensorView<T>? {
  guard tensor != nil else { return nil }
  return try view(tensor, name, as: type)
}

/// Whether `tensor` is float32 (else float64).
/// - Throws: `.dtype` for any other dtype, naming `name`.
func isFloat32(_ tensor: UnsafePointer<simloss_tensor>?, _ name: String) throws -> Bool {
  switch try dtype(of: tensor, name) {
  case Int32(SIMLOSS_FLOAT32.rawValue): return true
  case Int32(SIMLOSS_FLOAT64.rawValue): return false
  default: throw SimLossError(.dtype, "\(name): dtype \(dtypeName(tensor!.pointee.dtype)) is not float32 or float64")
  }
}

/// Runs the float32 or the float64 instantiation, by the dtype of `tensor`.
func floatCall(
  _ tensor: UnsafePointer<simloss_tensor>?, _ name: String,
  _ float: @autoclosure () throws -> Void, _ double: @autoclosure () throws -> Void
) throws {
  if try isFloat32(tensor, name) { try float() } else { try double() }
}
