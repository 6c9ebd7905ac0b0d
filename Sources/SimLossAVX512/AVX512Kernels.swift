import SimLossCore

// The cross-entropy family compiled for AVX-512 (x86-64-v4, see
// Package.swift). On a CPU that has it the loops of exp and log, which wait
// on long dependency chains rather than on memory, run 1.2x faster with
// 16 float32 lanes than with 8 (Zen 4, bench/README.md), and float64 with 8
// lanes rather than 4 1.4-1.8x. SimLossABI calls these
// only after checking the CPU (KernelDispatch.swift): nothing else in the
// library may, and nothing here may run before that check.
//
// Each function is a non-inlinable entry point, so that its body and the
// kernels it specialises are compiled here, with this module's flags, under
// symbols that name `AVX512` (KernelTarget.swift). It is generic only in
// name: its body casts to Float or Double (the only `SimLossFloat`s the ABI
// passes) and calls the kernel with that concrete type, once per type,
// written out: through a nested generic helper, the compiler left the
// kernels unspecialised (50x slower; check_kernels.py found no AVX-512
// code left). SimLossABI's generic entry points then need no cast. The
// results are bitwise those of the baseline kernels: every sum runs in the
// fixed lane order of laneSum, and no operation is contracted or
// reassociated differently.

/// AVX-512 as a kernel target.
package enum AVX512: KernelTarget {}

/// `v` as a view of `U`, for a body that has checked T == U.
@inline(__always)
func cast<T, U>(_ v: TensorView<T>, _: U.Type) -> TensorView<U> { unsafeBitCast(v, to: TensorView<U>.self) }

@inline(__always)
func cast<T, U>(_ v: TensorView<T>?, _: U.Type) -> TensorView<U>? { v.map { cast($0, U.self) } }

/// The cross-entropy family with AVX-512 kernels, for T = Float or Double.
package enum AVX512Kernels {
  @inline(never)
  package static func crossEntropy<T: SimLossFloat, I: FixedWidthInteger & SignedInteger>(
    logits: TensorView<T>, target: TensorView<I>, weight: TensorView<T>?,
    options: CrossEntropyOptions, gradient: TensorView<T>?
  ) throws -> CrossEntropyResult {
    switch (T.self == Float.self, I.self == Int32.self) {
    case (true, true):
      return try SimLossCore.crossEntropy(
        logits: cast(logits, Float.self), target: cast(target, Int32.self), weight: cast(weight, Float.self),
        options: options, gradient: cast(gradient, Float.self), kernels: AVX512.self)
    case (true, false):
      return try SimLossCore.crossEntropy(
        logits: cast(logits, Float.self), target: cast(target, Int64.self), weight: cast(weight, Float.self),
        options: options, gradient: cast(gradient, Float.self), kernels: AVX512.self)
    case (false, true):
      return try SimLossCore.crossEntropy(
        logits: cast(logits, Double.self), target: cast(target, Int32.self), weight: cast(weight, Double.self),
        options: options, gradient: cast(gradient, Double.self), kernels: AVX512.self)
    case (false, false):
      return try SimLossCore.crossEntropy(
        logits: cast(logits, Double.self), target: cast(target, Int64.self), weight: cast(weight, Double.self),
        options: options, gradient: cast(gradient, Double.self), kernels: AVX512.self)
    }
  }

  @inline(never)
  package static func crossEntropy<T: SimLossFloat>(
    logits: TensorView<T>, probabilities: TensorView<T>, weight: TensorView<T>?,
    options: CrossEntropyOptions, gradient: TensorView<T>?
  ) throws -> CrossEntropyResult {
    if T.self == Float.self {
      return try SimLossCore.crossEntropy(
        logits: cast(logits, Float.self), probabilities: cast(probabilities, Float.self),
        weight: cast(weight, Float.self), options: options, gradient: cast(gradient, Float.self), kernels: AVX512.self)
    }
    return try SimLossCore.crossEntropy(
      logits: cast(logits, Double.self), probabilities: cast(probabilities, Double.self),
      weight: cast(weight, Double.self), options: options, gradient: cast(gradient, Double.self), kernels: AVX512.self)
  }

  @inline(never)
  package static func crossEntropy<T: SimLossFloat>(
    probabilities: TensorView<T>, target: TensorView<T>, options: CrossEntropyOptions, gradient: TensorView<T>?
  ) throws -> CrossEntropyResult {
    if T.self == Float.self {
      return try SimLossCore.crossEntropy(
        probabilities: cast(probabilities, Float.self), target: cast(target, Float.self), options: options,
        gradient: cast(gradient, Float.self), kernels: AVX512.self)
    }
    return try SimLossCore.crossEntropy(
      probabilities: cast(probabilities, Double.self), target: cast(target, Double.self), options: options,
      gradient: cast(gradient, Double.self), kernels: AVX512.self)
  }

  @inline(never)
  package static func binaryCrossEntropyWithLogits<T: SimLossFloat>(
    logits: TensorView<T>, target: TensorView<T>, weight: TensorView<T>?, posWeight: TensorView<T>?,
    options: BinaryLossOptions, gradient: TensorView<T>?
  ) throws -> LossValues {
    if T.self == Float.self {
      return try SimLossCore.binaryCrossEntropyWithLogits(
        logits: cast(logits, Float.self), target: cast(target, Float.self), weight: cast(weight, Float.self),
        posWeight: cast(posWeight, Float.self), options: options, gradient: cast(gradient, Float.self),
        kernels: AVX512.self)
    }
    return try SimLossCore.binaryCrossEntropyWithLogits(
      logits: cast(logits, Double.self), target: cast(target, Double.self), weight: cast(weight, Double.self),
      posWeight: cast(posWeight, Double.self), options: options, gradient: cast(gradient, Double.self),
      kernels: AVX512.self)
  }

  @inline(never)
  package static func binaryCrossEntropy<T: SimLossFloat>(
    probabilities: TensorView<T>, target: TensorView<T>, weight: TensorView<T>?,
    options: BinaryLossOptions, gradient: TensorView<T>?
  ) throws -> LossValues {
    if T.self == Float.self {
      return try SimLossCore.binaryCrossEntropy(
        probabilities: cast(probabilities, Float.self), target: cast(target, Float.self),
        weight: cast(weight, Float.self), options: options, gradient: cast(gradient, Float.self), kernels: AVX512.self)
    }
    return try SimLossCore.binaryCrossEntropy(
      probabilities: cast(probabilities, Double.self), target: cast(target, Double.self),
      weight: cast(weight, Double.self), options: options, gradient: cast(gradient, Double.self), kernels: AVX512.self)
  }

  @inline(never)
  package static func sigmoidFocalLoss<T: SimLossFloat>(
    logits: TensorView<T>, target: TensorView<T>, options: BinaryLossOptions, gradient: TensorView<T>?
  ) throws -> LossValues {
    if T.self == Float.self {
      return try SimLossCore.sigmoidFocalLoss(
        logits: cast(logits, Float.self), target: cast(target, Float.self), options: options,
        gradient: cast(gradient, Float.self), kernels: AVX512.self)
    }
    return try SimLossCore.sigmoidFocalLoss(
      logits: cast(logits, Double.self), target: cast(target, Double.self), options: options,
      gradient: cast(gradient, Double.self), kernels: AVX512.self)
  }
}
