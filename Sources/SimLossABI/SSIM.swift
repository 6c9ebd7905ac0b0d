import CSimLoss
import SimLossCore

// simloss.h, "SSIM and MS-SSIM".

@c @implementation
public func simloss_ssim(
  _ x: UnsafePointer<simloss_tensor>?, _ y: UnsafePointer<simloss_tensor>?,
  _ options: UnsafePointer<simloss_ssim_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int,
  _ grad: UnsafePointer<simloss_tensor>?, _ map: UnsafePointer<simloss_tensor>?,
  _ perChannel: UnsafeMutablePointer<Double>?, _ cs: UnsafeMutablePointer<Double>?, _ channelsLen: Int
) -> simloss_status {
  abiCall {
    let (ssimOptions, reduction) = try ssimOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let xv = try view(x, "x", as: T.self)
      let yv = try view(y, "y", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      let m = try optionalView(map, "map", as: T.self)
      try xv.requireRank(4, "(N, C, H, W)")
      let out = try requireValues(values, valuesLen, reduction, count: xv.shape[0])
      let planes = ssimOptions.luma ? 1 : xv.shape[1]
      if perChannel != nil || cs != nil {
        guard channelsLen >= xv.shape[0] * planes else {
          throw SimLossError(
            .invalidArgument,
            "channels_len: \(channelsLen) is less than the \(xv.shape[0] * planes) per-channel values (N x C')")
        }
      }
      let result = try ssim(
        xv, yv, options: ssimOptions, reduction: reduction, gradient: g, map: m, contrastStructure: cs != nil)
      store(result.valuesBuffer, out)
      store(result.perChannelBuffer, perChannel)
      store(result.csBuffer, cs)
    }
    try floatCall(x, "x", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_ssim3d(
  _ x: UnsafePointer<simloss_tensor>?, _ y: UnsafePointer<simloss_tensor>?,
  _ options: UnsafePointer<simloss_ssim_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?,
  _ perChannel: UnsafeMutablePointer<Double>?, _ cs: UnsafeMutablePointer<Double>?, _ channelsLen: Int
) -> simloss_status {
  abiCall {
    let (ssimOptions, reduction) = try ssimOptions(options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let xv = try view(x, "x", as: T.self)
      let yv = try view(y, "y", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      try xv.requireRank(5, "(N, C, D, H, W)")
      let out = try requireValues(values, valuesLen, reduction, count: xv.shape[0])
      if perChannel != nil || cs != nil {
        guard channelsLen >= xv.shape[0] * xv.shape[1] else {
          throw SimLossError(
            .invalidArgument,
            "channels_len: \(channelsLen) is less than the \(xv.shape[0] * xv.shape[1]) per-channel values (N x C)")
        }
      }
      let result = try ssim3D(xv, yv, options: ssimOptions, reduction: reduction, gradient: g)
      store(result.valuesBuffer, out)
      store(result.perChannelBuffer, perChannel)
      store(result.csBuffer, cs)
    }
    try floatCall(x, "x", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_ssim_map_shape(
  _ imageShape: UnsafePointer<Int64>?, _ options: UnsafePointer<simloss_ssim_options>?,
  _ shape: UnsafeMutablePointer<Int64>?
) -> simloss_status {
  abiCall {
    guard let imageShape else { throw SimLossError(.nullPointer, "image_shape is NULL") }
    guard let shape else { throw SimLossError(.nullPointer, "shape is NULL") }
    let (ssimOptions, _) = try ssimOptions(options)
    let result = try ssimMapShape((0..<4).map { Int(imageShape[$0]) }, options: ssimOptions)
    for d in 0..<4 { shape[d] = Int64(result[d]) }
  }
}

@c @implementation
public func simloss_ms_ssim(
  _ x: UnsafePointer<simloss_tensor>?, _ y: UnsafePointer<simloss_tensor>?,
  _ ssimOptionsPointer: UnsafePointer<simloss_ssim_options>?,
  _ options: UnsafePointer<simloss_ms_ssim_options>?,
  _ values: UnsafeMutablePointer<Double>?, _ valuesLen: Int, _ grad: UnsafePointer<simloss_tensor>?
) -> simloss_status {
  abiCall {
    let (msOptions, reduction) = try msSSIMOptions(ssimOptionsPointer, options)
    func run<T: SimLossFloat & ABIElement>(_: T.Type) throws {
      let xv = try view(x, "x", as: T.self)
      let yv = try view(y, "y", as: T.self)
      let g = try optionalView(grad, "grad", as: T.self)
      try xv.requireRank(4, "(N, C, H, W)")
      let out = try requireValues(values, valuesLen, reduction, count: xv.shape[0])
      store(try msSSIM(xv, yv, options: msOptions, reduction: reduction, gradient: g), out)
    }
    try floatCall(x, "x", run(Float.self), run(Double.self))
  }
}

@c @implementation
public func simloss_ms_ssim_min_side(
  _ ssimOptionsPointer: UnsafePointer<simloss_ssim_options>?,
  _ options: UnsafePointer<simloss_ms_ssim_options>?, _ side: UnsafeMutablePointer<Int64>?
) -> simloss_status {
  abiCall {
    guard let side else { throw SimLossError(.nullPointer, "side is NULL") }
    let (msOptions, _) = try msSSIMOptions(ssimOptionsPointer, options)
    side.pointee = Int64(
      clamping: msSSIMMinimumSide(windowSize: msOptions.ssim.windowSize, levels: msOptions.weights.count))
  }
}

// MARK: - Options

/// The caller's SSIM options as the core's, with the reduction.
func ssimOptions(_ options: UnsafePointer<simloss_ssim_options>?) throws -> (SSIMOptions, Reduction) {
  var defaults = simloss_ssim_options()
  simloss_ssim_options_init(&defaults)
  let o = try readOptions(options, defaults)
  try requireZero(o.reserved_, "options.reserved_")
  let border: SSIMBorder
  switch o.border {
  case Int32(SIMLOSS_SSIM_VALID.rawValue): border = .valid
  case Int32(SIMLOSS_SSIM_REFLECT.rawValue): border = .reflect
  case Int32(SIMLOSS_SSIM_ZERO.rawValue): border = .zero
  default:
    throw SimLossError(.invalidArgument, "options.border: \(o.border) is not a simloss_ssim_border (0 VALID, 1 REFLECT, 2 ZERO)")
  }
  func flag(_ value: Int32, _ name: String) throws -> Bool {
    guard value == 0 || value == 1 else { throw SimLossError(.invalidArgument, "options.\(name): \(value) is not 0 or 1") }
    return value == 1
  }
  let options = SSIMOptions(
    dataRange: o.data_range == 0 ? 1 : o.data_range,
    windowSize: o.window_size == 0 ? 11 : Int(o.window_size),
    sigma: o.sigma == 0 ? 1.5 : o.sigma,
    gaussian: !(try flag(o.uniform_window, "uniform_window")),
    k1: o.k1, k2: o.k2, border: border,
    sampleCovariance: try flag(o.sample_covariance, "sample_covariance"),
    matlabDownsample: try flag(o.matlab_downsample, "matlab_downsample"),
    luma: try flag(o.luma, "luma"))
  try options.validate()
  return (options, try reduction(o.reduction))
}

func msSSIMOptions(
  _ ssimPointer: UnsafePointer<simloss_ssim_options>?, _ options: UnsafePointer<simloss_ms_ssim_options>?
) throws -> (MSSSIMOptions, Reduction) {
  let (ssim, reduction) = try ssimOptions(ssimPointer)
  var defaults = simloss_ms_ssim_options()
  simloss_ms_ssim_options_init(&defaults)
  let o = try readOptions(options, defaults)
  // 0 selects the default 5 levels only with the default weights: with
  // weights given, 0 would read 5 of them from an array of unknown length.
  if o.levels == 0 && o.weights != nil {
    throw SimLossError(.invalidArgument, "options.levels: 0 with weights given; set it to their count, 1...\(MSSSIMOptions.maximumLevels)")
  }
  let levels = o.levels == 0 ? 5 : Int(o.levels)
  guard (1...MSSSIMOptions.maximumLevels).contains(levels) else {
    throw SimLossError(.invalidArgument, "options.levels: \(levels) is outside 1...\(MSSSIMOptions.maximumLevels)")
  }
  let weights: [Double]
  if let given = o.weights {
    weights = (0..<levels).map { given[$0] }
  } else {
    guard levels == MSSSIMOptions.defaultWeights.count else {
      throw SimLossError(
        .invalidArgument, "options.weights: NULL selects the 5 weights of Wang et al. 2003; \(levels) levels need \(levels) weights")
    }
    weights = MSSSIMOptions.defaultWeights
  }
  guard o.no_relu == 0 || o.no_relu == 1 else {
    throw SimLossError(.invalidArgument, "options.no_relu: \(o.no_relu) is not 0 or 1")
  }
  let result = MSSSIMOptions(ssim: ssim, weights: weights, relu: o.no_relu == 0, floor: o.floor)
  try result.validate()
  return (result, reduction)
}
