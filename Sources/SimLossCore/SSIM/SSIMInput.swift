// The planes SSIM and MS-SSIM compare: (image, channel) planes of x and y,
// or their BT.601 luma, after the optional MATLAB ssim.m downsampling; the
// checks on x, y and the output views that both losses share.
//
// Implementation goals, in order of priority: every caller mistake is a
// thrown error naming the argument and the values; the order of the
// pre-processing is the reference's (luma, then downsampling, then
// borders); a plane row is produced from the caller's memory on demand, so
// bands and planes can be processed independently on any thread.

/// x and y seen as planes of `planeHeight x planeWidth` Doubles.
struct SSIMInput<T: SimLossFloat> {
  let x: PlaneIO<T>
  let y: PlaneIO<T>
  /// N, C, H, W of the inputs.
  let images: Int, channels: Int, height: Int, width: Int
  /// Planes per image: C, or 1 with luma.
  let planesPerImage: Int
  /// The ssim.m downsampling, when its factor is > 1.
  let downsample: MatlabDownsample?
  /// The plane size after luma and downsampling.
  let planeHeight: Int, planeWidth: Int

  var planes: Int { images * planesPerImage }
  var factor: Int { downsample?.f ?? 1 }

  init(_ x: TensorView<T>, _ y: TensorView<T>, options: SSIMOptions) throws {
    try x.requireRank(4, "(N, C, H, W)")
    try x.requireSameShape(as: y)
    let shape = x.shape
    if options.luma && shape[1] != 3 {
      throw SimLossError(
        .invalidShape,
        "\(x.name): luma needs 3 channels (R, G, B) in dimension 1, got shape \(describe(shape: shape))")
    }
    self.x = PlaneIO(x, luma: options.luma, dataRange: options.dataRange)
    self.y = PlaneIO(y, luma: options.luma, dataRange: options.dataRange)
    images = shape[0]
    channels = shape[1]
    height = shape[2]
    width = shape[3]
    planesPerImage = options.luma ? 1 : channels
    let f = options.matlabDownsample ? matlabDownsampleFactor(height: height, width: width) : 1
    if f > 1 {
      let d = try MatlabDownsample(height: height, width: width, f: f)
      downsample = d
      planeHeight = d.outHeight
      planeWidth = d.outWidth
    } else {
      downsample = nil
      planeHeight = height
      planeWidth = width
    }
  }

  /// "4 x 5" and, with downsampling, what it came from.
  var planeDescription: String {
    guard let d = downsample else { return "\(planeHeight) x \(planeWidth)" }
    return "\(planeHeight) x \(planeWidth) after MATLAB downsampling of \(height) x \(width) by f = \(d.f)"
  }

  /// Doubles of row scratch `row` needs: two input rows and a plane row.
  var rowScratchCount: Int { 2 * width + planeWidth + 8 }

  /// Row h of plane (n, c) of x (or y) after luma and downsampling, into
  /// out[0 ..< planeWidth]. `buffers` holds `rowScratchCount` Doubles and
  /// must not overlap `out`.
  @inline(__always)
  func row(
    of source: PlaneIO<T>, n: Int, c: Int, h: Int, into out: UnsafeMutablePointer<Double>,
    buffers: UnsafeMutablePointer<Double>
  ) {
    if let d = downsample {
      d.row(
        h, read: { source.readRow(n: n, c: c, h: $0, into: $1) },
        rowBuffer: buffers, sum: buffers + width, into: out)
    } else {
      source.readRow(n: n, c: c, h: h, into: out)
    }
  }

  /// Checks a gradient view: x's shape, writable, disjoint from x and y.
  func checkGradient(_ gradient: TensorView<T>?, x xv: TensorView<T>, y yv: TensorView<T>) throws {
    guard let gradient else { return }
    try xv.requireSameShape(as: gradient)
    try gradient.requireWritable()
    try gradient.requireNoOverlap(with: xv)
    try gradient.requireNoOverlap(with: yv)
  }

  /// Writes the gradient of plane (n, c) held in `g` (height x width,
  /// dense) through the luma transpose to the gradient view.
  func writeGradient(_ io: PlaneIO<T>, n: Int, c: Int, _ g: UnsafePointer<Double>) {
    for h in 0..<height { io.writeRow(n: n, c: c, h: h, from: g + h * width) }
  }
}

/// Reinterprets a view of T as a view of U; only called when T == U.
@inline(__always)
func sameType<T: SimLossFloat, U: SimLossFloat>(_ v: TensorView<T>, _: U.Type) -> TensorView<U> {
  unsafeBitCast(v, to: TensorView<U>.self)
}

@inline(__always)
func sameType<T: SimLossFloat, U: SimLossFloat>(_ v: TensorView<T>?, _: U.Type) -> TensorView<U>? {
  v.map { unsafeBitCast($0, to: TensorView<U>.self) }
}
