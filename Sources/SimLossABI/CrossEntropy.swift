import CSimLoss
import SimLossAVX512
import SimLossCore

// simloss.h, "Cross-entropy".

@c @implementation
public func simloss_cross_entropy(
  _ logits: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_cross_entropy_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?,
  _ stats: UnsafeMutablePointer<simloss_cross_entropy_stats>?
) -> simloss_status {
  abiCall {
    let options = try crossEntropyOptions(options)
    let indexType = try dtype(of: target, "target")
    func run<T: SimLossFloat & ABIElement, I: FixedWidthInteger & SignedInteger & ABIElement>(_: T.Type, _: I.Type) throws {
      let x = try view(logits, "logits", as: T.self)
      let y = try view(target, "target", as: I.self)
      let w = try optionalView(weight, "weight", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let out = try requireValues(values, valuesLen, options.reduction, count: y.count)
      let result: CrossEntropyResult
      if KernelDispatch.avx512 {
        result = try AVX512Kernels.crossEntropy(logits: x, target: y, weight: w, options: options, gradient: g)
      } else {
        result = try crossEntropy(logits: x, target: y, weight: w, options: options, gradient: g)
      }
      store(result, out, stats)
    }
    guard indexType == Int32(SIMLOSS_INT32.rawValue) || indexType == Int32(SIMLOSS_INT64.rawValue) else {
      throw SimLossError(.dtype, "target: dtype \(dtypeName(indexType)) is not int32 or int64 class indices")
    }
    switch (try isFloat32(logits, "logits"), indexType == Int32(SIMLOSS_INT32.rawValue)) {
    case (true, true): try run(Float.self, Int32.self)
    case (true, false): try run(Float.self, Int64.self)
    case (false, true): try run(Double.self, Int32.self)
    case (false, false): try run(Double.self, Int64.self)
    }
  }
}

@c @implementation
public func simloss_cross_entropy_soft(
  _ logits: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_cross_entropy_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?,
  _ stats: UnsafeMutablePointer<simloss_cross_entropy_stats>?
) -> simloss_status {
  abiCall {
    let options = try crossEntropyOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let x = try view(logits, "logits", as: T.self)
      let t = try view(target, "target", as: T.self)
      let w = try optionalView(weight, "weight", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let positions = positionCount(x, options.classAxis)
      let out = try requireValues(values, valuesLen, options.reduction, count: positions)
      let result = KernelDispatch.avx512
        ? try AVX512Kernels.crossEntropy(logits: x, probabilities: t, weight: w, options: options, gradient: g)
        : try crossEntropy(logits: x, probabilities: t, weight: w, options: options, gradient: g)
      store(result, out, stats)
    }
    try floatCall(logits, "logits", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_cross_entropy_probs(
  _ probs: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ options: UnsafePointer<simloss_cross_entropy_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    let options = try crossEntropyOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let q = try view(probs, "probs", as: T.self)
      let p = try view(target, "target", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let positions = positionCount(q, options.classAxis)
      let out = try requireValues(values, valuesLen, options.reduction, count: positions)
      store(
        KernelDispatch.avx512
          ? try AVX512Kernels.crossEntropy(probabilities: q, target: p, options: options, gradient: g)
          : try crossEntropy(probabilities: q, target: p, options: options, gradient: g), out, nil)
    }
    try floatCall(probs, "probs", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_bce_with_logits(
  _ logits: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ posWeight: UnsafePointer<simloss_tensor>?,
  _ options: UnsafePointer<simloss_binary_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    let options = try binaryOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let x = try view(logits, "logits", as: T.self)
      let y = try view(target, "target", as: T.self)
      let w = try optionalView(weight, "weight", as: T.self)
      let q = try optionalView(posWeight, "pos_weight", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let out = try requireValues(values, valuesLen, options.reduction, count: x.count)
      store(
        KernelDispatch.avx512
          ? try AVX512Kernels.binaryCrossEntropyWithLogits(
            logits: x, target: y, weight: w, posWeight: q, options: options, gradient: g)
          : try binaryCrossEntropyWithLogits(
            logits: x, target: y, weight: w, posWeight: q, options: options, gradient: g), out)
    }
    try floatCall(logits, "logits", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_bce(
  _ probs: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_binary_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    let options = try binaryOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let p = try view(probs, "probs", as: T.self)
      let y = try view(target, "target", as: T.self)
      let w = try optionalView(weight, "weight", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let out = try requireValues(values, valuesLen, options.reduction, count: p.count)
      store(
        KernelDispatch.avx512
          ? try AVX512Kernels.binaryCrossEntropy(probabilities: p, target: y, weight: w, options: options, gradient: g)
          : try binaryCrossEntropy(probabilities: p, target: y, weight: w, options: options, gradient: g), out)
    }
    try floatCall(probs, "probs", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_sigmoid_focal(
  _ logits: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ options: UnsafePointer<simloss_binary_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    let options = try binaryOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let x = try view(logits, "logits", as: T.self)
      let y = try view(target, "target", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let out = try requireValues(values, valuesLen, options.reduction, count: x.count)
      store(
        KernelDispatch.avx512
          ? try AVX512Kernels.sigmoidFocalLoss(logits: x, target: y, options: options, gradient: g)
          : try sigmoidFocalLoss(logits: x, target: y, options: options, gradient: g), out)
    }
    try floatCall(logits, "logits", run(Float.self), run(Double.self))
  }
}

// MARK: - Options and outputs

func crossEntropyOptions(_ options: UnsafePointer<simloss_cross_entropy_options>?) throws -> CrossEntropyOptions {
  var defaults = simloss_cross_entropy_options()
  simloss_cross_entropy_options_init(&defaults)
  let o = try readOptions(options, defaults)
  let axis: ClassAxis
  switch o.class_axis {
  case Int32(SIMLOSS_CLASS_AXIS_SECOND.rawValue): axis = .second
  case Int32(SIMLOSS_CLASS_AXIS_LAST.rawValue): axis = .last
  default:
    throw SimLossError(.invalidArgument, "options.class_axis: \(o.class_axis) is not a simloss_class_axis (0 SECOND, 1 LAST)")
  }
  return CrossEntropyOptions(
    reduction: try reduction(o.reduction), classAxis: axis, ignoreIndex: Int(o.ignore_index),
    labelSmoothing: o.label_smoothing)
}

func binaryOptions(_ options: UnsafePointer<simloss_binary_options>?) throws -> BinaryLossOptions {
  var defaults = simloss_binary_options()
  simloss_binary_options_init(&defaults)
  let o = try readOptions(options, defaults)
  try requireZero(o.reserved_, "options.reserved_")
  return BinaryLossOptions(reduction: try reduction(o.reduction), alpha: o.alpha, gamma: o.gamma)
}

func store(_ result: CrossEntropyResult, _ values: UnsafeMutablePointer<Double>, _ stats: UnsafeMutablePointer<simloss_cross_entropy_stats>?) {
  store(result.valuesBuffer, values)
  stats?.pointee = simloss_cross_entropy_stats(denominator: result.denominator, counted: Int64(result.counted))
}

/// The number of positions (elements less the class dimension) of logits;
/// a tensor of rank < 2 is left for the core to refuse by name.
func positionCount<T>(_ v: TensorView<T>, _ axis: ClassAxis) -> Int {
  guard v.rank >= 2 else { return v.count }
  return v.count / max(1, v.shape[axis == .second ? 1 : v.rank - 1])
}
