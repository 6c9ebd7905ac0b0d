import RealModule

// The 1-D taps of the separable SSIM window.
//
// Implementation goals, in order of priority: the taps of the reference
// (MATLAB `fspecial('gaussian', win, sigma)` normalised to sum 1, which is
// the outer product of these taps; scipy's `gaussian_filter1d` kernel),
// exact to double rounding; symmetric bit for bit (g[k] == g[win-1-k]), so
// that the filter and its transpose are the same operator.
//
//   g[k] = exp(-(k - (win-1)/2)^2 / (2 sigma^2)) / sum_j exp(-(j - (win-1)/2)^2 / (2 sigma^2))
//   uniform: g[k] = 1 / win

/// The window taps for `options` (Gaussian or uniform), `windowSize` of them.
func ssimWindowTaps(_ options: SSIMOptions) -> [Double] {
  let win = options.windowSize
  guard options.gaussian else { return [Double](repeating: 1 / Double(win), count: win) }
  let centre = Double(win - 1) / 2
  let denominator = 2 * options.sigma * options.sigma
  var taps = (0..<win).map { k -> Double in
    let d = Double(k) - centre
    return Double.exp(-(d * d) / denominator)
  }
  // Sum from both ends towards the middle, so that the normalisation is
  // independent of the order of symmetric pairs.
  var total = 0.0
  for k in 0..<(win / 2) { total += taps[k] + taps[win - 1 - k] }
  if win % 2 == 1 { total += taps[win / 2] }
  for k in 0..<win { taps[k] /= total }
  return taps
}
