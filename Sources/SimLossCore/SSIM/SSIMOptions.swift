// The options of SSIM and MS-SSIM, and what each default reproduces.
//
// Implementation goals, in order of priority: defaults are those of the
// reference (Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment:
// from error visibility to structural similarity", IEEE TIP 13(4), 2004:
// 11 x 11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, population
// covariance, valid region); every convention users need to match a peer is
// one option; every value a caller can get wrong is checked by `validate()`
// with a message naming the option and the value.
//
//   C1 = (k1 L)^2,  C2 = (k2 L)^2,  L = dataRange
//
// Matching peers (each is a test against Tests/python/reference/ssim_reference.py):
//   scikit-image `structural_similarity(gaussian_weights=True, sigma=1.5,
//     use_sample_covariance=False, data_range=L)`: the defaults;
//   scikit-image's own defaults: gaussian = false, windowSize = 7,
//     sampleCovariance = true;
//   MATLAB ssim.m (2009): matlabDownsample = true, dataRange = 255;
//   kornia / torchmetrics >= 1.4.2: border = .reflect;
//   super-resolution papers (SSIM on Y of BT.601): luma = true.

/// Where the SSIM window may sit.
public enum SSIMBorder: Sendable, Equatable {
  /// Only window positions lying fully inside the image: the map is
  /// (H - win + 1) x (W - win + 1). The MATLAB reference, TensorFlow,
  /// pytorch-msssim, piq, dm-pix; scikit-image crops its mean to this region.
  case valid
  /// Same-size map; the image is padded by reflection without repeating the
  /// edge sample (numpy `mode="reflect"`, torch `'reflect'`), and the mean
  /// is over every position, padded borders included (kornia, torchmetrics).
  case reflect
  /// Same-size map over a zero-padded image; the mean is over every position.
  case zero
}

/// The parameters of `ssim`; the defaults are the reference's (Wang et al.
/// 2004).
public struct SSIMOptions: Sendable, Equatable {
  /// L, the span of the input units (1 for [0, 1] images, 255 for 8-bit
  /// ones); finite and > 0. Never inferred from the data: an inferred range
  /// changes C1 and C2 from batch to batch.
  public var dataRange: Double
  /// Side of the square window in pixels; odd, 1...`SSIMOptions.maximumWindowSize`.
  public var windowSize: Int
  /// Standard deviation of the Gaussian window in pixels; finite and > 0
  /// (read only when `gaussian`).
  public var sigma: Double
  /// true: taps exp(-k^2 / (2 sigma^2)), k = -(win-1)/2 ... (win-1)/2,
  /// normalised to sum 1 (MATLAB `fspecial('gaussian', win, sigma)`);
  /// false: uniform taps 1 / win (scikit-image's default window).
  public var gaussian: Bool
  /// K1 of C1 = (K1 L)^2; finite and >= 0 (0 makes flat regions 0/0).
  public var k1: Double
  /// K2 of C2 = (K2 L)^2; finite and >= 0.
  public var k2: Double
  /// Border handling; default `.valid`.
  public var border: SSIMBorder
  /// Multiply variances and covariance by NP / (NP - 1), NP = win^2 (win^3 for `ssim3D`), as
  /// scikit-image's `use_sample_covariance=True` (also with Gaussian
  /// weights). Needs windowSize >= 3.
  public var sampleCovariance: Bool
  /// The automatic downsampling of the authors' MATLAB `ssim.m` (2009):
  /// f = max(1, round(min(H, W) / 256)); for f > 1 an f x f box filter with
  /// symmetric padding, then every f-th pixel from the first. Applied after
  /// `luma`, before the border.
  public var matlabDownsample: Bool
  /// Compare Y of ITU-R BT.601 YCbCr (MATLAB `rgb2ycbcr`) instead of each
  /// channel: Y = 16 L / 255 + (65.481 R + 128.553 G + 24.966 B) / 255.
  /// Needs C = 3 (R, G, B in that order); the map then has one channel.
  public var luma: Bool

  /// The largest `windowSize` accepted, 1023.
  public static var maximumWindowSize: Int { 1023 }

  public init(
    dataRange: Double = 1.0, windowSize: Int = 11, sigma: Double = 1.5, gaussian: Bool = true,
    k1: Double = 0.01, k2: Double = 0.03, border: SSIMBorder = .valid,
    sampleCovariance: Bool = false, matlabDownsample: Bool = false, luma: Bool = false
  ) {
    self.dataRange = dataRange
    self.windowSize = windowSize
    self.sigma = sigma
    self.gaussian = gaussian
    self.k1 = k1
    self.k2 = k2
    self.border = border
    self.sampleCovariance = sampleCovariance
    self.matlabDownsample = matlabDownsample
    self.luma = luma
  }

  /// Throws `.invalidArgument` naming the first option out of its range.
  public func validate() throws {
    guard dataRange > 0, dataRange.isFinite else {
      throw SimLossError(.invalidArgument, "data_range: \(dataRange) must be finite and > 0")
    }
    guard windowSize >= 1, windowSize <= Self.maximumWindowSize, windowSize % 2 == 1 else {
      throw SimLossError(
        .invalidArgument, "win_size: \(windowSize) must be odd and in 1...\(Self.maximumWindowSize)")
    }
    guard !gaussian || (sigma > 0 && sigma.isFinite) else {
      throw SimLossError(.invalidArgument, "sigma: \(sigma) must be finite and > 0")
    }
    guard k1 >= 0, k1.isFinite else {
      throw SimLossError(.invalidArgument, "k1: \(k1) must be finite and >= 0")
    }
    guard k2 >= 0, k2.isFinite else {
      throw SimLossError(.invalidArgument, "k2: \(k2) must be finite and >= 0")
    }
    // Finite options whose products are not gave NaN with status OK (an
    // adversarial review): the SSIM numerator and denominator reach
    // (2 L^2 + C1)(2 L^2 + C2) for data in [0, L], which overflows from
    // about L = 1e77; and a sigma whose 2 sigma^2 underflows to 0 makes the
    // Gaussian taps 0 / 0.
    let square = 2 * dataRange * dataRange
    guard ((square + c1) * (square + c2)).isFinite else {
      throw SimLossError(
        .invalidArgument,
        "data_range: \(dataRange) (with k1 \(k1), k2 \(k2)) is too large: (2 L^2 + C1)(2 L^2 + C2) overflows a double")
    }
    guard !gaussian || 2 * sigma * sigma > 0 else {
      throw SimLossError(.invalidArgument, "sigma: \(sigma) is too small: 2 sigma^2 underflows to 0")
    }
    guard !sampleCovariance || windowSize >= 3 else {
      throw SimLossError(
        .invalidArgument,
        "sample_covariance: needs a window of at least 2 samples (NP / (NP - 1)), got win_size \(windowSize)")
    }
  }

  /// C1 = (k1 L)^2.
  var c1: Double { (k1 * dataRange) * (k1 * dataRange) }
  /// C2 = (k2 L)^2.
  var c2: Double { (k2 * dataRange) * (k2 * dataRange) }
  /// NP / (NP - 1) with NP = win^2, or 1.
  var covarianceScale: Double {
    guard sampleCovariance else { return 1 }
    let np = Double(windowSize * windowSize)
    return np / (np - 1)
  }
}
