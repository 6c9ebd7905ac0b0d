// The fused SSIM kernel: one band of rows of one (padded) plane, forward
// statistics, map, sums, and, when asked, the gradient rows, in one sweep.
//
// Implementation goals, in order of priority:
//  1. exact: statistics in Double (SeparableFilter.swift), the formula of
//     the reference, written as it is: S = (A1 A2) / (B1 B2) and
//     cs = A2 / B2 are single correctly rounded quotients, so x == y gives
//     exactly 1 at every pixel (a product with a reciprocal would not);
//  2. the exact gradient of the sum of alpha * map over the band's rows
//     (SSIMGradient.swift);
//  3. deterministic: a band's result depends only on the plane and the
//     band's bounds; sums run over fixed lanes and rows in order;
//  4. speed: per four output rows, one vertical pass of the four
//     moments; per output row, one horizontal pass fused with the formula,
//     and (with a gradient) one transposed horizontal pass, and per pair of
//     gradient rows one gathered vertical pass (the pair shares win - 1
//     transposed rows, loaded once: 6% off a forward+backward pass); input
//     rows stream through a ring of win + 3 rows (win + 4 with a gradient),
//     so a band never copies its input and its scratch (a few hundred KiB
//     for 512-pixel rows) stays in cache.
//
//   SSIM = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
//   cs   = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)
//   (Wang, Bovik, Sheikh, Simoncelli 2004, with C3 = C2 / 2)

/// A plane as the kernel sees it: the padded input hp x wp, the map
/// ho x wo, and the row strides of the scratch rows.
struct SSIMPlaneGeometry {
  let hp: Int, wp: Int, win: Int
  let ho: Int, wo: Int
  /// Row stride (in Doubles) of input and moment rows, a multiple of 8:
  /// every 8-column step of the horizontal pass reads at most column wp + 6.
  let stride: Int
  /// Row stride of the zero-framed coefficient rows (`coefficientLead`
  /// zeros, wo values, zeros), read from column coefficientLead - (win - 1)
  /// up to coefficientLead + wp + 6.
  let coefficientStride: Int
  /// Zeros before a coefficient row's values (at least win - 1, and a
  /// multiple of 8, so that the rows' stores are 64-byte aligned).
  let coefficientLead: Int

  init(hp: Int, wp: Int, win: Int) {
    self.hp = hp
    self.wp = wp
    self.win = win
    self.ho = hp - win + 1
    self.wo = wp - win + 1
    self.stride = roundUp8(wp + 7)
    self.coefficientLead = roundUp8(win - 1)
    self.coefficientStride = roundUp8(coefficientLead + wp + 7)
  }

  /// Doubles of kernel scratch (laid out in `ssimBandSweep`): four sets of
  /// four moment rows, two gradient rows, a map row, two input rows, a ring
  /// of `inputSlots` x 4 input rows; for the gradient three coefficient
  /// rows and a ring of (win + 1) x 3 transposed rows.
  func kernelScratchCount(gradient: Bool) throws -> Int {
    let rows = try scratchSum(
      "SSIM",
      [try scratchCount("SSIM", filteredRowSets * momentCount + 5, stride),
       try scratchCount("SSIM", inputSlots(gradient: gradient), momentCount, stride)])
    guard gradient else { return rows }
    let ring = try scratchCount("SSIM", win + 1, 3, stride)
    let coefficients = try scratchCount("SSIM", 3, coefficientStride)
    return try scratchSum("SSIM", [rows, ring, coefficients])
  }

  /// Input rows in the ring: win + 3 (`filteredRowSets` output rows are
  /// filtered at once); with the gradient one more, so that the input row
  /// of a gradient row that waits for the next one (they are gathered in
  /// pairs) is still there.
  func inputSlots(gradient: Bool) -> Int { gradient ? win + 4 : win + 3 }

  /// Output rows whose vertical moments are filtered at once.
  var filteredRowSets: Int { 4 }

  /// Ints of kernel scratch (`ssimBand`'s `slots`): win + 1 offsets of
  /// transposed rows, win + 3 of input rows.
  var kernelSlotCount: Int { 2 * win + 4 }
}

/// The constants of one call: C1, C2, the covariance scale and the taps.
struct SSIMConstants {
  let c1: Double, c2: Double, kappa: Double
  let win: Int
  /// g[0 ..< win].
  let taps: UnsafePointer<Double>
  /// g[win - 1 - k].
  let reversed: UnsafePointer<Double>
}

/// The sums of the SSIM and cs maps over a band's rows.
struct SSIMSums {
  var ssim = 0.0
  var cs = 0.0
}

/// A band's source of padded input rows (see `ssimBand`).
typealias SSIMRowSource =
  (Int, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> (UnsafePointer<Double>, UnsafePointer<Double>)

/// Which maps a band needs: MS-SSIM uses only cs at its finer levels and
/// only SSIM at its coarsest, and each map costs a division per pixel
/// (about 4% of MS-SSIM's time); a map not needed is 0.
enum SSIMSumsNeeded {
  case both, csOnly, ssimOnly
}

/// The same as types, so that each map row is compiled for its maps (see
/// `ssimMapRow`).
protocol SSIMMaps {
  static var ssim: Bool { get }
  static var cs: Bool { get }
}
enum BothMaps: SSIMMaps {
  static var ssim: Bool { true }
  static var cs: Bool { true }
}
enum SSIMMapOnly: SSIMMaps {
  static var ssim: Bool { true }
  static var cs: Bool { false }
}
enum CSMapOnly: SSIMMaps {
  static var ssim: Bool { false }
  static var cs: Bool { true }
}

/// One band of one plane.
///
/// - Parameters:
///   - loadRow: padded input row r of x and y (rows are requested in
///     increasing order, each once): either writes them to its two pointers
///     (wp values each) and returns those, or returns two rows of its own
///     whose columns wp ..< geometry.stride hold 0. The kernel copies the
///     rows before it asks for the next, so a loader may reuse its rows.
///   - sumRows: the map rows whose values are summed (and written with
///     `mapRow` when `writesMap`).
///   - needs: which sums (the map written is the SSIM map: not `.csOnly`);
///     with a gradient, it must include the `target` map.
///   - gradientRows: the input rows whose gradient is produced (empty: no
///     gradient); the gradient is that of alpha * sum of the `target` map
///     over *all* ho rows, alpha = `gradientScale`.
///   - scratch: `geometry.kernelScratchCount` Doubles, any contents;
///     `slots`: `geometry.kernelSlotCount` Ints.
///   - gradientRow: receives each gradient row (wp values) in order.
///   - gradientInto: where to gather gradient row r, when given: a row of
///     `roundUp8(geometry.wp)` values (those past wp are left undefined),
///     overlapping neither `scratch` nor rows `loadRow` returns (the
///     gather reads them while it writes); by default a row of the
///     scratch. (MS-SSIM keeps its levels' gradients: gathered in place,
///     they are not copied.)
///
/// Input rows stream through a ring of `geometry.inputSlots` slots (x, y,
/// x^2 + y^2, xy), so a band needs no copy of its input: the scratch is a few
/// rows.
func ssimBand(
  _ geometry: SSIMPlaneGeometry, _ k: SSIMConstants,
  loadRow: SSIMRowSource,
  sumRows: Range<Int>, needs: SSIMSumsNeeded = .both, writesMap: Bool,
  mapRow: (Int, UnsafePointer<Double>) -> Void,
  gradientRows: Range<Int>, target: SSIMGradientTarget, gradientScale: Double,
  scratch: UnsafeMutablePointer<Double>, slots: UnsafeMutablePointer<Int>,
  gradientRow: (Int, UnsafePointer<Double>) -> Void,
  gradientInto: ((Int) -> UnsafeMutablePointer<Double>)? = nil
) -> SSIMSums {
  assert(
    gradientRows.isEmpty || needs == .both || (needs == .ssimOnly) == (target == .ssim),
    "the gradient's target map must be computed")
  // The forward-only sweep is compiled on its own, without the gradient's
  // live values competing for registers in the pixel loop.
  if gradientRows.isEmpty {
    return ssimBandSweep(
      ForwardOnly.self, geometry, k, loadRow: loadRow, sumRows: sumRows, needs: needs, writesMap: writesMap,
      mapRow: mapRow,
      gradientRows: gradientRows, target: target, gradientScale: gradientScale, scratch: scratch, slots: slots,
      gradientRow: gradientRow, gradientInto: nil)
  }
  return ssimBandSweep(
    WithGradient.self, geometry, k, loadRow: loadRow, sumRows: sumRows, needs: needs, writesMap: writesMap,
    mapRow: mapRow,
    gradientRows: gradientRows, target: target, gradientScale: gradientScale, scratch: scratch, slots: slots,
    gradientRow: gradientRow, gradientInto: gradientInto)
}

/// One map row from its vertical moments `v` (four rows `stride` apart):
/// the horizontal pass, the `Maps` (the SSIM map stored to
/// `map[0 ..< wo]`; a map not computed is 0), their sums in eight lanes,
/// and with `Mode.gradient` the gradient coefficients of the `target` map,
/// times `scale`, stored to `coefficients[0 ..< wo]` and the two rows
/// `coefficientStride` after it. Lanes past the row's end are 0.
///
/// A function of its own, not inlined into the sweep, and specialised for
/// its maps: inlined there, with the sweep's other live values around it,
/// or choosing its maps at run time, LLVM reshuffled the lanes of the
/// divisions (some thirty shuffles and a dozen more spills per eight
/// pixels).
@inline(never)
func ssimMapRow<Mode: SweepMode, Maps: SSIMMaps>(
  _: Mode.Type, _: Maps.Type, _ v: UnsafePointer<Double>, stride: Int, _ k: SSIMConstants, wo: Int,
  map: UnsafeMutablePointer<Double>, coefficients: UnsafeMutablePointer<Double>, coefficientStride wa: Int,
  target: SSIMGradientTarget, scale: Double
) -> (ssim: Lanes, cs: Lanes) {
  let c1 = k.c1, c2 = k.c2, kappa = k.kappa
  let tail = SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7)
  var ssimLanes = Lanes(), csLanes = Lanes()
  var j = 0
  while j < wo {
    let (muX, muY, eSquares, exy) = horizontalMoments(v, stride: stride, at: j, taps: k.taps, win: k.win)
    let muX2 = muX * muX, muY2 = muY * muY, muXY = muX * muY
    let muSquares = muX2 + muY2
    // sigma_x^2 + sigma_y^2 and sigma_xy
    let sigmaSquares = kappa * (eSquares - muSquares)
    let sigmaXY = kappa * (exy - muXY)
    let a1 = 2 * muXY + c1
    let a2 = 2 * sigmaXY + c2
    let b1 = muSquares + c1
    let b2 = sigmaSquares + c2
    var s = Maps.ssim ? (a1 * a2) / (b1 * b2) : Lanes()
    var cs = Maps.cs ? a2 / b2 : Lanes()
    let full = j + 8 <= wo
    let outside = tail .>= SIMD8<Int64>(repeating: Int64(wo - j))
    if !full {
      s.replace(with: 0, where: outside)
      cs.replace(with: 0, where: outside)
    }
    ssimLanes += s
    csLanes += cs
    store8(s, map + j)
    if Mode.gradient {
      var (ca, cb, cc) = ssimCoefficients(
        target, muX: muX, muY: muY, a1: a1, a2: a2, b1: b1, b2: b2, s: s, cs: cs, kappa: kappa, scale: scale)
      if !full {
        ca.replace(with: 0, where: outside)
        cb.replace(with: 0, where: outside)
        cc.replace(with: 0, where: outside)
      }
      let p = coefficients + j
      store8(ca, p)
      store8(cb, p + wa)
      store8(cc, p + 2 &* wa)
    }
    j &+= 8
  }
  return (ssimLanes, csLanes)
}

/// Whether a sweep produces gradient rows, as a type, so that each sweep
/// is specialised.
protocol SweepMode { static var gradient: Bool { get } }
enum ForwardOnly: SweepMode { static var gradient: Bool { false } }
enum WithGradient: SweepMode { static var gradient: Bool { true } }

func ssimBandSweep<Mode: SweepMode>(
  _: Mode.Type, _ geometry: SSIMPlaneGeometry, _ k: SSIMConstants,
  loadRow: SSIMRowSource,
  sumRows: Range<Int>, needs: SSIMSumsNeeded, writesMap: Bool, mapRow: (Int, UnsafePointer<Double>) -> Void,
  gradientRows: Range<Int>, target: SSIMGradientTarget, gradientScale: Double,
  scratch: UnsafeMutablePointer<Double>, slots: UnsafeMutablePointer<Int>,
  gradientRow: (Int, UnsafePointer<Double>) -> Void,
  gradientInto: ((Int) -> UnsafeMutablePointer<Double>)?
) -> SSIMSums {
  let win = k.win, ws = geometry.stride, wa = geometry.coefficientStride
  let ho = geometry.ho, wo = geometry.wo
  let gradient = Mode.gradient
  // Vertical moments of up to four output rows, a set of four rows each.
  let momentSets = scratch, setSize = momentCount * ws
  let mapBuffer = scratch + geometry.filteredRowSets * setSize
  let gradientBuffer = mapBuffer + ws, earlierGradient = mapBuffer + 2 * ws
  let rowX = mapBuffer + 3 * ws, rowY = mapBuffer + 4 * ws
  // Input ring: slot r % inputSlots holds x, y, x^2 + y^2, xy of row r,
  // interleaved (see `SSIMPlaneGeometry.inputSlots`).
  let inputs = mapBuffer + 5 * ws
  let slotSize = momentCount * ws, inputSlots = geometry.inputSlots(gradient: gradient)
  let inputOffsets = slots + win + 1
  // Transposed ring: slot r % (win + 1) holds the three transposed
  // coefficient rows of row r (win + 1: gradient rows are gathered in pairs).
  let ringSlots = win + 1
  let ring = inputs + inputSlots * slotSize
  let coefficients = ring + ringSlots * 3 * ws
  // Columns wp ..< ws of the input rows must read as 0: loadRow writes
  // only the first wp, and the scratch may hold another geometry's rows.
  rowX.update(repeating: 0, count: 2 * ws)
  if gradient {
    ring.update(repeating: 0, count: ringSlots * 3 * ws)
    coefficients.update(repeating: 0, count: 3 * wa)
  }
  let first = gradient ? max(0, gradientRows.lowerBound - win + 1) : sumRows.lowerBound
  let end = gradient ? max(sumRows.upperBound, gradientRows.upperBound) : sumRows.upperBound
  let paddedColumns = roundUp8(geometry.wp)
  var sums = SSIMSums()
  var loaded = first
  let forwardEnd = min(end, ho)
  // Rows filtered ..< filteredEnd have their moments in the sets, row r in
  // set r - filtered.
  var filtered = first, filteredEnd = first

  for i in first..<end {
    if i < ho {
      if i >= filteredEnd {
        // Four rows at a time (one for windows under 3 rows). Near the
        // band's end the rows past it are not loaded: their offsets repeat
        // the last loaded slot, and their moments are never read.
        let count = win >= 3 ? 4 : 1
        let needed = min(forwardEnd - i, count)
        while loaded < i + win + needed - 1 {
          let (xr, yr) = loadRow(loaded, rowX, rowY)
          interleavedRow(xr, yr, columns: ws, into: inputs + (loaded % inputSlots) * slotSize)
          loaded += 1
        }
        for t in 0..<(win + count - 1) { inputOffsets[t] = (min(i + t, loaded - 1) % inputSlots) * slotSize }
        if count == 4 {
          verticalMoments4(
            inputs, offsets: inputOffsets, stride: ws, taps: k.taps, win: win, into: momentSets, setStride: setSize)
        } else {
          verticalMoments(inputs, offsets: inputOffsets, stride: ws, taps: k.taps, win: win, into: momentSets)
        }
        filtered = i
        filteredEnd = i + needed
      }
      let current = momentSets + (i - filtered) * setSize
      let summed = sumRows.contains(i)
      let coefficientRow = coefficients + geometry.coefficientLead
      let rowSums: (ssim: Lanes, cs: Lanes)
      switch needs {
      case .both:
        rowSums = ssimMapRow(
          Mode.self, BothMaps.self, current, stride: ws, k, wo: wo, map: mapBuffer,
          coefficients: coefficientRow, coefficientStride: wa, target: target, scale: gradientScale)
      case .ssimOnly:
        rowSums = ssimMapRow(
          Mode.self, SSIMMapOnly.self, current, stride: ws, k, wo: wo, map: mapBuffer,
          coefficients: coefficientRow, coefficientStride: wa, target: target, scale: gradientScale)
      case .csOnly:
        rowSums = ssimMapRow(
          Mode.self, CSMapOnly.self, current, stride: ws, k, wo: wo, map: mapBuffer,
          coefficients: coefficientRow, coefficientStride: wa, target: target, scale: gradientScale)
      }
      if summed {
        sums.ssim += laneTotal(rowSums.ssim)
        sums.cs += laneTotal(rowSums.cs)
        if writesMap { mapRow(i, mapBuffer) }
      }
    }
    guard gradient else { continue }
    let transposed = ring + (i % ringSlots) * 3 * ws
    if i < ho {
      transposedHorizontal3(
        coefficients + (geometry.coefficientLead - (win - 1)), aStride: wa, reversed: k.reversed, win: win,
        columns: paddedColumns,
        into: transposed)
    } else {
      transposed.update(repeating: 0, count: 3 * ws)
    }
    // Gradient rows in pairs from the band's first: (lb, lb + 1),
    // (lb + 2, lb + 3), ...; the last one alone when their count is odd.
    // A pair is gathered at its second row. Rows below `first` (and
    // negative ones) read never-written, zero slots of the ring.
    if gradientRows.contains(i) {
      let d = i - gradientRows.lowerBound
      if d & 1 == 0 && i + 1 < gradientRows.upperBound { continue }
      for t in 0...win { slots[t] = ((i - t + ringSlots) % ringSlots) * 3 * ws }
      let slot = inputs + (i % inputSlots) * slotSize
      let out = gradientInto?(i) ?? gradientBuffer
      if d & 1 == 1 {
        let previous = inputs + ((i - 1) % inputSlots) * slotSize
        let earlier = gradientInto?(i - 1) ?? earlierGradient
        gatherGradientRows2(
          ring: ring, slots: slots, taps: k.taps, win: win, earlier: previous, later: slot,
          columns: paddedColumns, into: earlier, out)
        gradientRow(i - 1, earlier)
      } else {
        gatherGradientRow(
          ring: ring, slots: slots, taps: k.taps, win: win,
          row: slot, columns: paddedColumns, into: out)
      }
      gradientRow(i, out)
    }
  }
  return sums
}
