import SimLossCore

// The float32 cross-entropy family compiled for AVX-512 (x86-64-v4, see
// Package.swift). On a CPU that has it the loops of exp and log, which wait
// on long dependency chains rather than on memory, run 1.2x faster with
// 16 lanes than with 8 (Zen 4, bench/README.md). SimLossABI calls these
// only after checking the CPU (KernelDispatch.swift): nothing else in the
// library may, and nothing here may run before that check.
//
// Each function is a concrete, non-inlinable entry point, so that its body
// and the kernels it specialises are compiled here, with this module's
// flags, under symbols that name `AVX512` (KernelTarget.swift). The
// results are bitwise those of the baseline kernels: every sum runs in the
// fixed lane order of laneSum, and no operation is contracted or
// reassociated differently.

/// AVX-512 as a kernel target.
package enum AVX512: KernelTarget {}

/// The float32 cross-entropy family with AVX-512 kernels.
package enum AVX512Kernels {
  @inline(never)
  package static func crossEntropy(
    logits: TensorView<Float>, target: TensorView<Int64>, weight: TensorView<Float>?,
    options: CrossEntropyOptions, gradient: TensorView<Float>?
  ) throws -> CrossEntropyResult {
    try SimLossCore.crossEntropy(
      logits: logits, target: target, weight: weight, options: options, gradient: gradient, kernels: AVX512.self)
  }

  @inline(never)
  package static func crossEntropy(
    logits: TensorView<Float>, target: TensorView<Int32>, weight: TensorView<Float>?,
    options: CrossEntropyOptions, gradient: TensorView<Float>?
  ) throws -> CrossEntropyResult {
    try SimLossCore.crossEntropy(
      logits: logits, target: target, weight: weight, options: options, gradient: gradient, kernels: AVX512.self)
  }

  @inline(never)
  package static func crossEntropy(
    logits: TensorView<Float>, probabilities: TensorView<Float>, weight: TensorView<Float>?,
    options: CrossEntropyOptions, gradient: TensorView<Float>?
  ) throws -> CrossEntropyResult {
    try SimLossCore.crossEntropy(
      logits: logits, probabilities: probabilities, weight: weight, options: options, gradient: gradient,
      kernels: AVX512.self)
  }

  @inline(never)
  package static func binaryCrossEntropyWithLogits(
    logits: TensorView<Float>, target: TensorView<Float>, weight: TensorView<Float>?, posWeight: TensorView<Float>?,
    options: BinaryLossOptions, gradient: TensorView<Float>?
  ) throws -> LossValues {
    try SimLossCore.binaryCrossEntropyWithLogits(
      logits: logits, target: target, weight: weight, posWeight: posWeight, options: options, gradient: gradient,
      kernels: AVX512.self)
  }

  @inline(never)
  package static func binaryCrossEntropy(
    probabilities: TensorView<Float>, target: TensorView<Float>, weight: TensorView<Float>?,
    options: BinaryLossOptions, gradient: TensorView<Float>?
  ) throws -> LossValues {
    try SimLossCore.binaryCrossEntropy(
      probabilities: probabilities, target: target, weight: weight, options: options, gradient: gradient,
      kernels: AVX512.self)
  }

  @inline(never)
  package static func sigmoidFocalLoss(
    logits: TensorView<Float>, target: TensorView<Float>, options: BinaryLossOptions, gradient: TensorView<Float>?
  ) throws -> LossValues {
    try SimLossCore.sigmoidFocalLoss(
      logits: logits, target: target, options: options, gradient: gradient, kernels: AVX512.self)
  }
}
