import CSimLoss
import SimLossCore

// simloss.h, "Total variation".

@c @implementation
public func simloss_tv(
  _ x: UnsafePointer<simloss_tensor>?, _ options: UnsafePointer<simloss_tv_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    var defaults = simloss_tv_options()
    simloss_tv_options_init(&defaults)
    let options = try readOptions(options, defaults)
    let reduction = try reduction(options.reduction)
    let kind: TotalVariationKind
    switch options.kind {
    case Int32(SIMLOSS_TV_ANISOTROPIC.rawValue): kind = .anisotropic
    case Int32(SIMLOSS_TV_ISOTROPIC.rawValue): kind = .isotropic(eps: options.eps == 0 ? 1e-8 : options.eps)
    case Int32(SIMLOSS_TV_SQUARED.rawValue): kind = .squared
    default:
      throw SimLossError(
        .invalidArgument,
        "options.kind: \(options.kind) is not a simloss_tv_kind (0 ANISOTROPIC, 1 ISOTROPIC, 2 SQUARED)")
    }
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let v = try view(x, "x", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      try v.requireRank(4, "(N, C, H, W)")
      let out = try requireValues(values, valuesLen, reduction, count: v.shape[0])
      store(try totalVariation(v, kind: kind, reduction: reduction, gradient: g), out)
    }
    try floatCall(x, "x", run(Float.self), run(Double.self))
  }
}
