import CSimLoss
import SimLossCore

// simloss.h, "Pointwise losses" and "PSNR".

@c @implementation
public func simloss_l1(
  _ pred: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_pointwise_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall { try pointwise(.absolute, pred, target, weight, options, values, valuesLen, grad) }
}

@c @implementation
public func simloss_mse(
  _ pred: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_pointwise_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall { try pointwise(.squared, pred, target, weight, options, values, valuesLen, grad) }
}

@c @implementation
public func simloss_psnr(
  _ pred: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ options: UnsafePointer<simloss_psnr_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    var defaults = simloss_psnr_options()
    simloss_psnr_options_init(&defaults)
    let options = try readOptions(options, defaults)
    try requireZero(options.reserved_, "options.reserved_")
    let reduction = try reduction(options.reduction)
    let range = options.data_range == 0 ? 1.0 : options.data_range
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let p = try view(pred, "pred", as: T.self)
      let t = try view(target, "target", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let out = try requireValues(values, valuesLen, reduction, count: p.shape[0])
      store(try psnr(pred: p, target: t, dataRange: range, reduction: reduction, gradient: g), out)
    }
    try floatCall(pred, "pred", run(Float.self), run(Double.self))
  }
}

func pointwise(
  _ function: PointwiseFunction,
  _ pred: UnsafePointer<simloss_tensor>?, _ target: UnsafePointer<simloss_tensor>?,
  _ weight: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_pointwise_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) throws {
  var defaults = simloss_pointwise_options()
  simloss_pointwise_options_init(&defaults)
  let options = try readOptions(options, defaults)
  try requireZero(options.reserved_, "options.reserved_")
  let reduction = try reduction(options.reduction)
  func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
    let p = try view(pred, "pred", as: T.self)
    let t = try view(target, "target", as: T.self)
    let w = try optionalView(weight, "weight", as: T.self)
    let g = try optionalView(grad, "grad", as: T.self)
    let out = try requireValues(values, valuesLen, reduction, count: p.shape[0])
    store(try pointwiseLoss(function, pred: p, target: t, weight: w, reduction: reduction, gradient: g), out)
  }
  try floatCall(pred, "pred", run(Float.self), run(Double.self))
}

/// Reserved fields must be zero, so that a later version may give them a
/// meaning.
func requireZero(_ value: Int32, _ name: String) throws {
  guard value == 0 else { throw SimLossError(.invalidArgument, "\(name): \(value) must be 0") }
}
