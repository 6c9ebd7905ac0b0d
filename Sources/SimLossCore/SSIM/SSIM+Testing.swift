// White-box hooks for the tests of SimLossSSIMTests. Test-only: `package`
// access, not part of the API, may change at any time.

extension SSIMOptions {
  /// The 1-D window taps these options select.
  package var testingWindowTaps: [Double] { ssimWindowTaps(self) }
}

/// The sides of MS-SSIM levels 1 ... levels under the round-up rule.
package func testingMSSSIMLevelSides(_ side: Int, levels: Int) -> [Int] {
  msSSIMLevelSides(side, levels: levels)
}

/// The factor f of the MATLAB ssim.m downsampling for an H x W image.
package func testingMatlabDownsampleFactor(height: Int, width: Int) -> Int {
  matlabDownsampleFactor(height: height, width: width)
}

/// Map rows per band of the SSIM partition for an ho x wo map.
package func testingSSIMBandRows(ho: Int, wo: Int) -> Int { ssimBandRows(ho: ho, wo: wo) }

/// numpy "reflect" and "symmetric" padding indices.
package func testingReflectIndex(_ i: Int, _ n: Int) -> Int { reflectIndex(i, n) }
package func testingSymmetricIndex(_ i: Int, _ n: Int) -> Int { symmetricIndex(i, n) }

/// `scaleAddHalveTranspose` on arrays: scale * acc (h x w) plus the
/// transpose of the MS-SSIM pyramid step applied to g (ceil(h/2) x ceil(w/2)).
package func testingScaleAddHalveTranspose(_ g: [Double], height h: Int, width w: Int, acc: [Double], scale: Double)
  -> [Double]
{
  precondition(g.count == halvedSide(h) * halvedSide(w) && acc.count == h * w)
  var out = acc
  g.withUnsafeBufferPointer { gp in
    out.withUnsafeMutableBufferPointer { op in
      scaleAddHalveTranspose(
        gp.baseAddress!, stride: halvedSide(w), height: h, width: w, into: op.baseAddress!, stride: w, scale: scale)
    }
  }
  return out
}

/// `halveRow` on arrays: the ceil(w/2) coarse values of fine rows r0 and r1.
package func testingHalveRow(_ r0: [Double], _ r1: [Double]) -> [Double] {
  precondition(r0.count == r1.count && !r0.isEmpty)
  var out = [Double](repeating: .nan, count: halvedSide(r0.count))
  r0.withUnsafeBufferPointer { a in
    r1.withUnsafeBufferPointer { b in
      out.withUnsafeMutableBufferPointer { o in
        halveRow(a.baseAddress!, b.baseAddress!, width: r0.count, into: o.baseAddress!)
      }
    }
  }
  return out
}
