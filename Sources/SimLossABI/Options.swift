import CSimLoss
import SimLossCore

// simloss.h, "Options": size-prefixed option structs, read the way the Linux
// kernel's copy_struct_from_user reads extensible structs.

/// The caller's options, or `defaults` for NULL. Reads min(size, ours)
/// bytes over a copy of `defaults`, so fields an older caller does not know
/// keep their defaults; a larger struct is accepted if its unknown tail is
/// zero.
func readOptions<O>(_ options: UnsafePointer<O>?, _ defaults: O) throws -> O {
  guard let options else { return defaults }
  let raw = UnsafeRawPointer(options)
  // size_t: read unsigned, so that SIZE_MAX is named as such, not -1.
  let given = raw.load(as: UInt.self)
  let ours = MemoryLayout<O>.stride
  // A bound on what we scan: no options struct will grow past 4 KiB.
  guard given >= UInt(MemoryLayout<Int>.size), given <= 4096 else {
    throw SimLossError(.optionsSize, "options.size: \(given) is outside \(MemoryLayout<Int>.size)...4096 bytes (this library's struct is \(ours))")
  }
  let size = Int(given)
  if size > ours {
    for i in ours..<size where raw.load(fromByteOffset: i, as: UInt8.self) != 0 {
      throw SimLossError(
        .optionsSize,
        "options.size: \(size) is larger than this library's \(ours) bytes and byte \(i) is not zero; "
          + "the caller uses a field of a newer simloss")
    }
  }
  var result = defaults
  withUnsafeMutableBytes(of: &result) { dst in
    dst.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(size, ours)))
  }
  return result
}

/// A `simloss_reduction` value as the core's `Reduction`.
func reduction(_ value: Int32) throws -> Reduction {
  switch value {
  case Int32(SIMLOSS_REDUCTION_MEAN.rawValue): return .mean
  case Int32(SIMLOSS_REDUCTION_SUM.rawValue): return .sum
  case Int32(SIMLOSS_REDUCTION_NONE.rawValue): return .none
  default:
    throw SimLossError(.invalidArgument, "options.reduction: \(value) is not a simloss_reduction (0 MEAN, 1 SUM, 2 NONE)")
  }
}

/// Checks the caller's `values` array before anything is computed: present,
/// and long enough for what the reduction writes (1, or the `count` values
/// of NONE: one per sample, position or element).
func requireValues(
  _ values: UnsafeMutablePointer<Double>?, _ length: Int, _ reduction: Reduction, count: Int
) throws -> UnsafeMutablePointer<Double> {
  guard let values else { throw SimLossError(.nullPointer, "values is NULL") }
  let needed = reduction == .none ? count : 1
  guard length >= needed else {
    throw SimLossError(
      .invalidArgument, "values_len: \(UInt(bitPattern: length)) is less than the \(needed) values this reduction writes")
  }
  return values
}

/// The number of samples (dimension 0) of a descriptor known to be valid.
func samples(_ tensor: UnsafePointer<simloss_tensor>?) -> Int {
  guard let tensor else { return 0 }
  return Int(tensor.pointee.shape.0)
}

/// Writes a result's values to the caller's array.
func store(_ result: LossValues, _ values: UnsafeMutablePointer<Double>) {
  store(result.buffer, values)
}

/// Writes values to the caller's array (nothing when it is NULL, for the
/// optional per-channel outputs).
func store(_ source: HeapArray<Double>, _ values: UnsafeMutablePointer<Double>?) {
  guard let values else { return }
  for i in 0..<source.count { values[i] = source[i] }
}
