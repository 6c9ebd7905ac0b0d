/// The shape of the SSIM map of (N, C, H, W) images: (N, C', H', W') with
/// C' = 1 for luma, else C, and H' x W' the size after the MATLAB
/// downsampling (ceil(H / f) x ceil(W / f)) less win - 1 for `.valid`.
/// Lets callers (the Python binding) allocate the map without restating the
/// conventions.
///
/// - Throws: `.invalidArgument` for bad options, `.rank` unless the shape
///   has 4 dimensions, `.invalidShape` for a dimension below 1 or luma
///   without 3 channels, `.tooSmall` when `.valid` leaves no position: the
///   statuses `ssim` gives the same images.
public func ssimMapShape(_ shape: [Int], options: SSIMOptions) throws -> [Int] {
  try options.validate()
  guard shape.count == 4 else {
    throw SimLossError(.rank, "x: expected a (N, C, H, W) shape, got \(describe(shape: shape))")
  }
  if let bad = shape.firstIndex(where: { $0 < 1 }) {
    throw SimLossError(
      .invalidShape,
      "x: dimension \(bad) of shape \(describe(shape: shape)) is \(shape[bad]); every dimension must be >= 1")
  }
  if options.luma && shape[1] != 3 {
    throw SimLossError(
      .invalidShape, "x: luma needs 3 channels (R, G, B) in dimension 1, got shape \(describe(shape: shape))")
  }
  let f = options.matlabDownsample ? matlabDownsampleFactor(height: shape[2], width: shape[3]) : 1
  let h = ceilingDivision(shape[2], f), w = ceilingDivision(shape[3], f)
  let win = options.windowSize
  if options.border == .valid && (h < win || w < win) {
    throw SimLossError(
      .tooSmall,
      "x: shape \(describe(shape: shape)) is too small for border valid: the minimum size is \(win) x \(win) "
        + "for window \(win), got \(h) x \(w)")
  }
  let planes = options.luma ? 1 : shape[1]
  return options.border == .valid ? [shape[0], planes, h - win + 1, w - win + 1] : [shape[0], planes, h, w]
}
