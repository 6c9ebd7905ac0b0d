import CSystemShims
import RealModule

/// The kernels of categorical cross-entropy (see CrossEntropy.swift for the
/// formula). Two shapes of loop:
///  - classes contiguous ((N, C), channels-last) with more than
///    `stagedClasses` classes: one position at a time, vectorised over its
///    classes (`classContiguousRows`);
///  - otherwise ((N, C, H, W), and class-contiguous logits of fewer
///    classes, staged through class-major scratch a row at a time): a row
///    of positions at a time, vectorised over positions, looping over
///    classes, with per-position scratch (`positionRows`).
/// Either reads the logits from memory once: the second and third sweeps
/// over a position's classes hit cache.
@usableFromInline
struct CategoricalPass<T: SimLossFloat, I: FixedWidthInteger & SignedInteger, K: KernelTarget> {
  @usableFromInline let classes: Int
  @usableFromInline let geometry: RowGeometry
  @usableFromInline let plan: BlockPlan
  @usableFromInline let x: TensorView<T>
  @usableFromInline let xClassStride: Int
  @usableFromInline let indices: TensorView<I>?
  /// The indices as the caller shaped them, for messages (`indices` may be
  /// cut into rows of positions).
  @usableFromInline let callerIndices: TensorView<I>?
  @usableFromInline let soft: TensorView<T>?
  @usableFromInline let softClassStride: Int
  @usableFromInline let gradient: TensorView<T>?
  @usableFromInline let gradientClassStride: Int
  @usableFromInline let weights: ClassWeights
  @usableFromInline let options: CrossEntropyOptions
  /// Whether the kernel runs along rows of positions (`positionRows`)
  /// rather than along each position's classes (`classContiguousRows`).
  @usableFromInline let vectorisesPositions: Bool
  /// Whether `positionRows` stages class-contiguous operands through
  /// scratch, a row at a time (see `stagedClasses`).
  @usableFromInline let staged: Bool

  /// Up to this many classes, class-contiguous logits ((N, C), channels
  /// last) in rows of 64 or more positions go to the kernel that runs
  /// along positions: each row's logits (and soft targets) are transposed
  /// into class-major scratch, its gradient computed there and transposed
  /// back (`transpose`), so that the kernel's sweeps are the unit-stride
  /// ones of (N, C, H, W). One position at a time is a few short loops
  /// each, with a logarithm and a division per position. (N, C) with its
  /// gradient, 2.75 M elements, one thread, ns per element, one position
  /// at a time against staged: float32 C = 2 6.4 / 4.4, C = 10 4.2 / 2.0,
  /// C = 21 3.3 / 1.7, C = 32 1.9 / 1.7, C = 40 1.85 / 1.7, C = 48
  /// 1.44 / 2.2, C = 64 1.1 / 1.9; float64 (vectorised exp since
  /// session 12; before, libm's made staging pay only up to 12 classes)
  /// C = 16 4.0-5.9 / 2.8, C = 21 5.0-6.5 / 2.9, C = 26 3.9-5.0 / 2.9,
  /// C = 32 2.9-3.6 / 2.6, C = 40 2.6 / 2.7. (Before staging, up to 12
  /// classes ran on this kernel with strided loads: C = 10 4.2.)
  @inlinable static var stagedClasses: Int { T.self == Float.self ? 40 : 32 }

  /// Staged rows hold about this many elements (positions x classes), up
  /// to 512 positions: a row's staged logits and gradient, 32 KiB each in
  /// float32, stay in L2 between the kernel's sweeps.
  @inlinable static var stagedRowElements: Int { 8192 }

  /// How many classes a position's sum in T holds before it is added to a
  /// Double total, in this kernel and in the one of H(P, Q)
  /// (ProbabilityCrossEntropy.swift): a float32 sum of that many terms,
  /// each <= 1 here, is within as many ulp, and a sum of 2^24 ones stops
  /// growing.
  @inlinable static var sumClasses: Int { 32 }

  @inlinable
  init(
    layout: ClassLayout, logits: TensorView<T>, indices: TensorView<I>?, soft: TensorView<T>?,
    weights: ClassWeights, gradient: TensorView<T>?, options: CrossEntropyOptions
  ) {
    classes = layout.classes
    var (x, xClassStride) = layout.positions(of: logits)
    callerIndices = indices
    var indices = indices
    var soft = soft.map { layout.positions(of: $0) }
    var gradient = gradient.map { layout.positions(of: $0) }
    let classContiguous = xClassStride == 1 && (gradient == nil || gradient!.1 == 1) && (soft == nil || soft!.1 == 1)
    let stageable = classContiguous && layout.classes <= Self.stagedClasses
    // One position at a time, a row holds about a block's elements, so that
    // a call of a few hundred positions of 1000 classes still has a block
    // for each thread.
    let maxLength = !classContiguous ? 512
      : stageable ? Swift.min(512, Swift.max(64, Self.stagedRowElements / Swift.max(1, layout.classes)))
      : BlockPlan.targetElements / Swift.max(1, layout.classes)
    let tile = Self.positionTile(
      x.shape, [x.strides] + [indices?.strides, soft?.0.strides, gradient?.0.strides].compactMap { $0 },
      maxLength: maxLength)
    if let tile {
      func retiled<E>(_ v: TensorView<E>) -> TensorView<E> {
        // The spacing of positions: 1 for dense NCHW, C for channels last.
        let spacing = Self.positionSpacings(v.shape, [v.strides])?.first ?? 1
        let samples = tile.samples, sampleStride = v.rank >= 2 ? v.strides[0] : 0
        let rows = (tile.positions &+ tile.length &- 1) / tile.length
        return TensorView(
          unchecked: v, shape: [samples, rows, tile.length],
          strides: [sampleStride, tile.length &* spacing, spacing])
      }
      x = retiled(x)
      indices = indices.map(retiled)
      soft = soft.map { (retiled($0.0), $0.1) }
      gradient = gradient.map { (retiled($0.0), $0.1) }
    }
    staged = stageable && tile.map { $0.length >= 64 } == true
    vectorisesPositions = !classContiguous || staged
    geometry = tile.map { RowGeometry(samples: $0.samples, perSample: $0.positions, rowLength: $0.length) }
      ?? RowGeometry(shape: x.shape)
    // The class-strided kernel takes each row's maxima while it sweeps the
    // row before, so its blocks hold several rows (12 of 512 positions for
    // 21 classes).
    plan = BlockPlan(
      samples: geometry.samples, rows: geometry.rows, rowLength: geometry.rowLength * max(1, classes),
      targetElements: vectorisesPositions ? 8 * BlockPlan.targetElements : BlockPlan.targetElements)
    (self.x, self.xClassStride) = (x, xClassStride)
    self.indices = indices
    (self.soft, softClassStride) = soft ?? (nil, 0)
    (self.gradient, gradientClassStride) = gradient ?? (nil, 0)
    self.weights = weights
    self.options = options
  }

  /// The distance between neighbouring positions of a sample in each of
  /// the views, or nil unless the positions of every view are evenly
  /// spaced (their dimensions after the sample's merge into one,
  /// `coalescedDimensions`). Rank-1 positions are one sample.
  @inlinable
  static func positionSpacings(_ shape: [Int], _ strides: [[Int]]) -> [Int]? {
    let first = shape.count >= 2 ? 1 : 0
    let (merged, mergedStrides) = coalescedDimensions(Array(shape[first...]), strides.map { Array($0[first...]) })
    return merged.count == 1 ? mergedStrides.map { $0[0] } : nil
  }

  /// Rows of positions, when every operand's positions within a sample are
  /// evenly spaced (dense, or C apart): up to `maxLength` positions instead
  /// of the last dimension, a divisor of their number if one is at least
  /// half of that, else the last row of each sample shorter; rank-1
  /// positions ((N, C) logits) are one sample of N. (A long last dimension
  /// is cut too: (1, 21, 131072) in one row per sample ran at 2.6 ns per
  /// element, against 1.0 for (8, 21, 128, 128) in rows of 512.) For the kernel that
  /// runs along positions ((N, C, d1, ..., dk) logits, or class-contiguous
  /// ones with few classes), rows of up to 512: each sweep over the
  /// classes then reads C runs of up to 2 KiB, prefetched
  /// (`prefetchLines`), rather than C runs of one image row, and a row's
  /// logits, exponentials and per-position arrays (C x 2 KiB each, 42 KiB
  /// for 21 classes, and a few of 2 KiB) stay in L1 and L2 between the
  /// sweeps. (512: (8, 21, 128, 128) 2.56 -> 2.29 ms on one thread, 1.66 ->
  /// 1.31 ms on two, with the prefetching; 1024 and 256 in between. Before
  /// the prefetching 2048 was the better: 3.27 against 3.42 ms.) Nil when
  /// the positions are not evenly spaced, or there are none.
  @inlinable
  static func positionTile(
    _ shape: [Int], _ strides: [[Int]], maxLength: Int
  ) -> (samples: Int, positions: Int, length: Int)? {
    guard !shape.isEmpty, positionSpacings(shape, strides) != nil else { return nil }
    let first = shape.count >= 2 ? 1 : 0
    let positions = shape[first...].reduce(1, &*)
    guard positions > 0 else { return nil }
    let most = Swift.max(1, Swift.min(positions, maxLength))
    var length = most
    while length > most / 2 && positions % length != 0 { length &-= 1 }
    return (first == 1 ? shape[0] : 1, positions, positions % length == 0 ? length : most)
  }

  // MARK: - Targets

  /// The sum of the weights of the counted targets and their number,
  /// checking every index first: nothing is written before this succeeds.
  @inlinable
  func countTargets() throws -> (Double, Int) {
    guard let indices else { return (0, 0) }
    let ignore = options.ignoreIndex, classes = self.classes
    let w = weights.values
    let stride = geometry.rowStride(indices.strides)
    // Without weights the denominator is the count: an integer tally, which
    // vectorises. (A Double sum of w[y] waited on its addition's latency at
    // every position: 5.5% of (8, 21, 128, 128) forward+backward on one
    // thread.) With weights, the sum of the counted targets' weights in a
    // second pass. A bad index makes its block's count NaN; found again
    // below for the message.
    func tally<S: Step>(_: S.Type, _ t: UnsafeMutablePointer<I>, _ n: Int, _ counted: inout Int, _ bad: inout Int) {
      for i in 0..<n {
        let y = Int(truncatingIfNeeded: t[S.offset(i, stride)])
        let kept = y != ignore ? 1 : 0
        counted &+= kept
        bad |= kept & (UInt(bitPattern: y) < UInt(classes) ? 0 : 1)
      }
    }
    let counts = try plan.sampleSums(indices.name) { s, rows in
      var counted = 0, bad = 0
      for r in rows {
        let t = indices.origin + geometry.offset(strides: indices.strides, sample: s, row: r)
        let n = geometry.length(sample: s, row: r)
        if stride == 1 { tally(UnitStep.self, t, n, &counted, &bad) } else { tally(StridedStep.self, t, n, &counted, &bad) }
      }
      return bad != 0 ? .nan : Double(counted)
    }
    if counts.contains(where: { $0.isNaN }) { try throwBadIndex() }
    let counted = counts.reduce(0) { $0 + Int($1) }
    guard weights.given, let caller = callerIndices else { return (Double(counted), counted) }
    // The weights' sum runs over the indices as the caller shaped them, in
    // blocks cut from that shape alone: the same sum, bitwise, whether the
    // logits are NCHW or channels last (whose rows of positions differ),
    // so that the two give the same gradients (1 / the sum scales them).
    let g = caller.rank == 1 ? RowGeometry(chunking: caller.count) : RowGeometry(shape: caller.shape)
    let strides = g.strides(of: caller), callerStride = g.rowStride(strides)
    let sums = try BlockPlan(samples: g.samples, rows: g.rows, rowLength: g.rowLength).sampleSums(caller.name) { s, rows in
      var total = 0.0
      for r in rows {
        let t = caller.origin + g.offset(strides: strides, sample: s, row: r)
        for i in 0..<g.length(sample: s, row: r) {
          let y = Int(truncatingIfNeeded: t[i &* callerStride])
          // Checked above, but read again: see rowTargets.
          if y != ignore && UInt(bitPattern: y) < UInt(classes) { total += w[y] }
        }
      }
      return total
    }
    return (sums.reduce(0, +), counted)
  }

  @usableFromInline
  func throwBadIndex() throws -> Never {
    guard let indices = callerIndices else { throw SimLossError(.internal, "no indices") }
    let ignore = options.ignoreIndex, classes = self.classes
    if let (index, y) = indices.firstElement(where: {
      Int(truncatingIfNeeded: $0) != ignore && !($0 >= 0 && Int(truncatingIfNeeded: $0) < classes)
    }) {
      throw SimLossError(
        .invalidValue,
        "\(indices.name): class index \(y) at \(describe(shape: index)) is outside [0, \(classes)) "
          + "and is not ignore_index (\(ignore))")
    }
    // The first pass read a bad index that this one no longer finds: the
    // targets changed during the call.
    throw SimLossError(
      .invalidValue,
      "\(indices.name): a class index outside [0, \(classes)) was read, but none is there now; "
        + "did another thread write the targets during the call?")
  }

  // MARK: - The pass

  @inlinable
  func run(denominator: Double, counted: Int) throws -> CrossEntropyResult {
    let reduction = options.reduction
    let scale: Double
    switch reduction {
    case .mean: scale = denominator != 0 ? 1 / denominator : 0
    case .sum, .none: scale = 1
    }
    let positions = geometry.samples * geometry.sampleCount
    let perPosition = try HeapArray<Double>(
      zeroed: reduction == .none ? positions : 0, what: "\(x.name): one loss per position")
    let out = UnsafeMutableBufferPointer(start: perPosition.base, count: perPosition.count)
    let contiguous = !vectorisesPositions
    let n = geometry.rowLength
    var layout = ScratchLayout(x.name)
    let sums: HeapArray<Double>
    if contiguous {
      let scratch = ContiguousScratch(values: try layout.reserve(T.self, classes), targets: try layout.reserve(Int.self, n))
      sums = try plan.sampleSums(x.name, scratchBytes: layout.bytes) { s, rows, raw in
        classContiguousRows(sample: s, rows: rows, scale: scale, out: out, scratch: scratch, raw)
      }
    } else {
      // With class-index targets and a gradient, a row's exponentials stay
      // in scratch and its gradient is streamed (`streamGradient`), when
      // the rows are dense (the streamed stores are whole 64-byte lines),
      // the exponentials fit in L2 (up to 256 KiB; 21 classes x 512
      // positions of float32: 42 KiB), and the gradient is larger than the
      // caches would keep anyway (4 MiB): a small gradient the caller reads
      // next is better left in cache (8-10% slower streamed, (2, 21, 32, 32)).
      let (expCount, overflow) = classes.multipliedReportingOverflow(by: n)
      // (Staged rows have classes <= stagedClasses, n <= 512.)
      let stagedCount = staged ? classes &* n : 0
      let dense = geometry.rowStride(x.strides) == 1 && gradient.map { geometry.rowStride($0.strides) == 1 } == true
      let large = positions * classes >= (4 << 20) / MemoryLayout<T>.stride
      let streams = !staged && dense && soft == nil && !overflow && expCount <= (1 << 18) / MemoryLayout<T>.stride
        && large
      // Staged, the same for a gradient whose rows are dense (n x C
      // contiguous).
      let streamsStaged = staged && large && gradient.map { geometry.rowStride($0.strides) == classes } == true
      let scratch = PositionScratch(
        doubles: try layout.reserve(Double.self, 3 * n), buffers: try layout.reserve(T.self, 5 * n),
        targets: try layout.reserve(Int.self, n), targetShare: try layout.reserve(T.self, classes),
        exponentials: try layout.reserve(T.self, streams ? expCount : 0),
        classOf: try layout.reserve(Int32.self, streams ? n : 0), row: try layout.reserve(T.self, streams ? n : 0),
        stagedLogits: try layout.reserve(T.self, staged ? stagedCount : 0),
        stagedGradient: try layout.reserve(T.self, staged && gradient != nil ? stagedCount : 0),
        stagedTargets: try layout.reserve(T.self, staged && soft != nil ? stagedCount : 0),
        streamsStagedGradient: streamsStaged)
      sums = try plan.sampleSums(x.name, scratchBytes: layout.bytes) { s, rows, raw in
        positionRows(sample: s, rows: rows, scale: scale, out: out, scratch: scratch, raw)
      }
    }
    let total = sums.reduce(0, +)
    switch reduction {
    case .mean: return try CrossEntropyResult(one: denominator != 0 ? total / denominator : 0, denominator, counted)
    case .sum: return try CrossEntropyResult(one: total, denominator, counted)
    case .none: return CrossEntropyResult(values: perPosition, denominator: denominator, counted: counted)
    }
  }

  /// Where the class-contiguous kernel's scratch arrays lie: a position's
  /// exponentials (when no gradient takes them) and a row's targets.
  @usableFromInline
  struct ContiguousScratch {
    @usableFromInline let values: ScratchSlice<T>
    @usableFromInline let targets: ScratchSlice<Int>
    @inlinable
    init(values: ScratchSlice<T>, targets: ScratchSlice<Int>) {
      self.values = values
      self.targets = targets
    }
  }

  /// Where the position kernel's scratch arrays lie (see `positionRows`);
  /// the last three are empty unless the gradient is streamed.
  @usableFromInline
  struct PositionScratch {
    @usableFromInline let doubles: ScratchSlice<Double>
    @usableFromInline let buffers: ScratchSlice<T>
    @usableFromInline let targets: ScratchSlice<Int>
    @usableFromInline let targetShare: ScratchSlice<T>
    @usableFromInline let exponentials: ScratchSlice<T>
    @usableFromInline let classOf: ScratchSlice<Int32>
    @usableFromInline let row: ScratchSlice<T>
    /// A staged row's logits, gradient and soft targets, class-major
    /// (empty unless staged, and for the operands not given).
    @usableFromInline let stagedLogits: ScratchSlice<T>
    @usableFromInline let stagedGradient: ScratchSlice<T>
    @usableFromInline let stagedTargets: ScratchSlice<T>
    /// Whether a staged row's gradient, dense, is transposed into scratch
    /// and streamed (`streamRow`) rather than stored in place.
    @usableFromInline let streamsStagedGradient: Bool
    @inlinable
    init(
      doubles: ScratchSlice<Double>, buffers: ScratchSlice<T>, targets: ScratchSlice<Int>, targetShare: ScratchSlice<T>,
      exponentials: ScratchSlice<T>, classOf: ScratchSlice<Int32>, row: ScratchSlice<T>,
      stagedLogits: ScratchSlice<T>, stagedGradient: ScratchSlice<T>, stagedTargets: ScratchSlice<T>,
      streamsStagedGradient: Bool
    ) {
      self.streamsStagedGradient = streamsStagedGradient
      self.stagedLogits = stagedLogits
      self.stagedGradient = stagedGradient
      self.stagedTargets = stagedTargets
      self.exponentials = exponentials
      self.classOf = classOf
      self.row = row
      self.doubles = doubles
      self.buffers = buffers
      self.targets = targets
      self.targetShare = targetShare
    }
  }

  /// The class indices of a row of positions, -1 where ignored (or where
  /// the targets are probabilities), into `out`.
  ///
  /// `countTargets` has checked every index, but this reads them again,
  /// and the kernels index the logits and the gradient with what it
  /// returns: an index outside [0, C) here can only be a caller's thread
  /// writing the targets during the call (Python releases the GIL), and is
  /// taken as ignored rather than followed out of the buffers (it was: a
  /// crash, with or without a gradient).
  @inlinable
  func rowTargets(sample: Int, row: Int, into out: UnsafeMutablePointer<Int>) {
    let n = geometry.length(sample: sample, row: row)
    guard let indices else {
      for i in 0..<n { out[i] = -1 }
      return
    }
    let t = indices.origin + geometry.offset(strides: indices.strides, sample: sample, row: row)
    let stride = geometry.rowStride(indices.strides), ignore = options.ignoreIndex, classes = UInt(self.classes)
    for i in 0..<n {
      let y = Int(truncatingIfNeeded: t[i &* stride])
      out[i] = y == ignore || UInt(bitPattern: y) >= classes ? -1 : y
    }
  }

  // MARK: Classes contiguous

  @inlinable
  func classContiguousRows(
    sample: Int, rows: Range<Int>, scale: Double, out: UnsafeMutableBufferPointer<Double>,
    scratch layout: ContiguousScratch, _ raw: UnsafeMutableRawPointer
  ) -> Double {
    let scratch = layout.values.pointer(in: raw), targets = layout.targets.pointer(in: raw)
    let xs = geometry.rowStride(x.strides)
    let gs = gradient.map { geometry.rowStride($0.strides) } ?? 0
    let ts = soft.map { geometry.rowStride($0.strides) } ?? 0
    var total = 0.0
    for r in rows {
      let xr = x.origin + geometry.offset(strides: x.strides, sample: sample, row: r)
      let gr = gradient.map { $0.origin + geometry.offset(strides: $0.strides, sample: sample, row: r) }
      let tr = soft.map { $0.origin + geometry.offset(strides: $0.strides, sample: sample, row: r) }
      rowTargets(sample: sample, row: r, into: targets)
      let n = geometry.length(sample: sample, row: r), base = geometry.flatIndex(sample: sample, row: r)
      for i in 0..<n {
        let y: Int? = targets[i] >= 0 ? targets[i] : nil
        let countedPosition = soft != nil || y != nil
        let loss = countedPosition
          ? position(xr + i &* xs, gr.map { $0 + i &* gs }, tr.map { $0 + i &* ts }, y, scale, scratch)
          : ignored(gr.map { $0 + i &* gs })
        total += loss
        if !out.isEmpty { out[base &+ i] = loss }
      }
    }
    return total
  }

  /// Zeroes the gradient of an ignored position; its loss is 0.
  @inlinable
  func ignored(_ g: UnsafeMutablePointer<T>?) -> Double {
    if let g { for c in 0..<classes { g[c] = 0 } }
    return 0
  }

  /// The loss of one position whose classes are contiguous, writing its
  /// gradient.
  @inlinable
  func position(
    _ x: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>?, _ t: UnsafeMutablePointer<T>?,
    _ y: Int?, _ scale: Double, _ scratch: UnsafeMutablePointer<T>
  ) -> Double {
    let n = classes, w = weights.values
    let eps = options.labelSmoothing, uniform = eps / Double(n)
    let m = contiguousMax(x, n)
    // Sum of exp(x - m); the exponentials go to the gradient buffer first.
    // (A plain loop vectorises the exponential; a lane sum over it does
    // not, so the exponentials are stored, then summed.)
    let e = g ?? scratch
    for c in 0..<n { e[c] = T.fastExpNonPositive(x[c] - m) }
    let sum = laneSum(n) { c in e[c].asDouble }
    let lse = m.asDouble + T.fastLog(T(sum)).asDouble
    // A = sum a_c and B = sum a_c x_c (a term with a_c = 0 is 0, even
    // against a -inf logit).
    var a = 0.0, b = 0.0
    if let y {
      let wy = w[y]
      a = (1 - eps) * wy + uniform * weights.total
      b = wy == 0 ? 0 : (1 - eps) * wy * x[y].asDouble
      if eps > 0 { b += uniform * laneSum(n) { c in w[c] == 0 ? 0 : w[c] * x[c].asDouble } }
    } else if let t {
      a = laneSum(n) { c in w[c] * ((1 - eps) * t[c].asDouble + uniform) }
      b = laneSum(n) { c in
        let ac = w[c] * ((1 - eps) * t[c].asDouble + uniform)
        return ac == 0 ? 0 : ac * x[c].asDouble
      }
    }
    if let g {
      let k = T(scale * a / sum)
      if let y {
        if eps > 0 || weights.given {
          let ku = scale * uniform
          for c in 0..<n { g[c] = k * g[c] - T(ku * w[c]) }
        } else {
          let ku = T(scale * uniform)
          for c in 0..<n { g[c] = k * g[c] - ku }
        }
        g[y] -= T(scale * (1 - eps) * w[y])
      } else if let t {
        for c in 0..<n { g[c] = k * g[c] - T(scale * w[c] * ((1 - eps) * t[c].asDouble + uniform)) }
      }
    }
    return a * lse - b
  }

  /// The largest of n contiguous values. A NaN is passed over here and
  /// reaches the loss through exp either way.
  @inlinable @inline(__always)
  func contiguousMax(_ x: UnsafeMutablePointer<T>, _ n: Int) -> T {
    if T.self == Float.self {
      return unsafeBitCast(FastMath.contiguousMax(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), n), to: T.self)
    }
    var m = -T.infinity
    for c in 0..<n where x[c] > m { m = x[c] }
    return m
  }

  // MARK: Positions contiguous

  /// A row of positions at a time, vectorised across them; classes strided.
  @inlinable
  func positionRows(
    sample: Int, rows: Range<Int>, scale: Double, out: UnsafeMutableBufferPointer<Double>,
    scratch: PositionScratch, _ raw: UnsafeMutableRawPointer
  ) -> Double {
    let xs = geometry.rowStride(x.strides)
    let gs = gradient.map { geometry.rowStride($0.strides) } ?? 1
    let ts = soft.map { geometry.rowStride($0.strides) } ?? 1
    // Positions one apart in every operand (NCHW rows), or staged into
    // scratch: a specialisation with unit-stride vector loads.
    return staged || (xs == 1 && gs == 1 && ts == 1)
      ? positionRows(UnitStep.self, sample: sample, rows: rows, scale: scale, out: out, scratch: scratch, raw)
      : positionRows(StridedStep.self, sample: sample, rows: rows, scale: scale, out: out, scratch: scratch, raw)
  }

  @inlinable
  func positionRows<S: Step>(
    _: S.Type, sample: Int, rows: Range<Int>, scale: Double, out: UnsafeMutableBufferPointer<Double>,
    scratch layout: PositionScratch, _ raw: UnsafeMutableRawPointer
  ) -> Double {
    // Scratch arrays hold rowLength positions; a row may hold fewer
    // (`RowGeometry.length`).
    let capacity = geometry.rowLength, classes = self.classes
    let w = weights.values
    let eps = options.labelSmoothing, uniform = eps / Double(classes)
    // The operands' position strides, and those the sweeps read with: a
    // staged row's class-major scratch has its classes `capacity` apart.
    let xRowStride = geometry.rowStride(x.strides)
    let gRowStride = gradient.map { geometry.rowStride($0.strides) } ?? 0
    let tRowStride = soft.map { geometry.rowStride($0.strides) } ?? 0
    let indexStride = indices.map { geometry.rowStride($0.strides) } ?? 0
    let xs = staged ? 1 : xRowStride, cs = staged ? capacity : xClassStride
    let gs = staged ? 1 : gRowStride, gcs = staged ? capacity : gradientClassStride
    let ts = staged ? 1 : tRowStride, tcs = staged ? capacity : softClassStride
    let stagedLogits = layout.stagedLogits.pointer(in: raw)
    let stagedGradient = layout.stagedGradient.pointer(in: raw)
    let stagedTargets = layout.stagedTargets.pointer(in: raw)
    // Scratch per position: A, B and the loss in Double; the max,
    // the sum of exponentials, the gradient factor and whether the position
    // counts (1 or 0) in T, so that the loops over classes run at T's vector
    // width. (Longer sums go to Double `sumClasses` at a time, see the
    // class loop.)
    let scratch = layout.doubles.pointer(in: raw)
    let a = scratch, b = scratch + capacity, lse = scratch + 2 * capacity
    let buffers = layout.buffers.pointer(in: raw)
    let sum = buffers, factor = buffers + capacity, counts = buffers + 2 * capacity
    var maxima = buffers + 3 * capacity, nextMaxima = buffers + 4 * capacity
    let targets = layout.targets.pointer(in: raw)
    // What the gradient of a class-index target loses at its class:
    // scale (1 - eps) w_y, in T.
    let targetShare = layout.targetShare.pointer(in: raw)
    // The exponentials go to the gradient's rows, or to scratch when the
    // gradient is streamed (unit strides only: the streamed stores are
    // whole 64-byte lines of a row).
    let streaming = S.self == UnitStep.self && layout.exponentials.count > 0
    let ex = layout.exponentials.pointer(in: raw)
    for c in 0..<classes { targetShare[c] = T(scale * (1 - eps) * w[c]) }
    func rowOrigin<E>(_ view: TensorView<E>, _ r: Int) -> UnsafeMutablePointer<E> {
      view.origin + geometry.offset(strides: view.strides, sample: sample, row: r)
    }
    // The maxima of the block's first row, in a sweep of their own. Each
    // later row's are taken during the exponential sweep of the row before
    // it: that sweep is compute-bound, and its loads of the next row's
    // logits overlap the memory latency that a sweep of its own would wait
    // on. (A row followed by none of its length in the block takes its own,
    // already cached, maxima into a throwaway buffer, and the next row, if
    // any, sweeps for its own.)
    func rowMaxima(_ x0: UnsafeMutablePointer<T>, _ n: Int, into m: UnsafeMutablePointer<T>) {
      let rowBytes = n &* MemoryLayout<T>.stride
      // The row is read from memory: each class's run is asked for two
      // classes ahead (2.30 -> 2.25 ms on (8, 21, 128, 128), one thread, a
      // few percent more on two).
      if S.self == UnitStep.self {
        for c in 1..<min(3, max(1, classes)) { prefetchLines(x0 + c &* cs, bytes: rowBytes) }
      }
      for i in 0..<n { m[i] = x0[S.offset(i, xs)] }
      for c in 1..<max(1, classes) {
        let xc = x0 + c &* cs
        if S.self == UnitStep.self && c &+ 2 < classes { prefetchLines(xc + 2 &* cs, bytes: rowBytes) }
        for i in 0..<n {
          let v = xc[S.offset(i, xs)]
          m[i] = v > m[i] ? v : m[i]
        }
      }
    }
    var total = 0.0
    var maximaTaken = false
    for r in rows {
      defer { swap(&maxima, &nextMaxima) }
      let n = geometry.length(sample: sample, row: r), rowBytes = n &* MemoryLayout<T>.stride
      var x0 = rowOrigin(x, r)
      var g0 = gradient.map { rowOrigin($0, r) }
      var t0 = soft.map { rowOrigin($0, r) }
      let callerGradient = g0
      if staged {
        // The next row's logits (and targets) are asked for as this row's
        // are copied, so that they arrive during this row's sweeps: the
        // copy's loads otherwise wait on memory (forward, (8, 128, 128, 21),
        // one thread, 3.08 -> 2.5 ms, when the whole row was asked for at
        // once).
        func ahead<E>(_ view: TensorView<E>) -> Int? {
          r &+ 1 < rows.upperBound ? geometry.nextRowDistance(strides: view.strides, sample: sample, row: r) : nil
        }
        transpose(
          x0, sourceStride: xRowStride, rows: n, columns: classes, into: stagedLogits, destinationStride: capacity,
          prefetchAhead: ahead(x), kernels: K.self)
        x0 = stagedLogits
        if let soft, let t = t0 {
          transpose(
            t, sourceStride: tRowStride, rows: n, columns: classes, into: stagedTargets, destinationStride: capacity,
            prefetchAhead: ahead(soft), kernels: K.self)
          t0 = stagedTargets
        }
        g0 = g0.map { _ in stagedGradient }
      }
      // The staged gradient goes back to the caller's row when the row is
      // done (every path below ends the iteration).
      defer {
        if staged, let g = callerGradient {
          if layout.streamsStagedGradient {
            // Into the staged logits' scratch (done with), then streamed.
            transpose(
              stagedGradient, sourceStride: capacity, rows: classes, columns: n, into: stagedLogits,
              destinationStride: classes, kernels: K.self)
            streamRow(g, from: stagedLogits, count: n &* classes)
          } else {
            transpose(
              stagedGradient, sourceStride: capacity, rows: classes, columns: n, into: g, destinationStride: gRowStride,
              kernels: K.self)
          }
        }
      }
      if !maximaTaken { rowMaxima(x0, n, into: maxima) }
      // (Staged, the next row is not in scratch yet; each row takes its
      // own maxima, from scratch.)
      maximaTaken = !staged && r &+ 1 < rows.upperBound && geometry.length(sample: sample, row: r &+ 1) == n
      let xNext = maximaTaken ? rowOrigin(x, r &+ 1) : x0
      rowTargets(sample: sample, row: r, into: targets)
      // The next row's indices are asked for now too: read when that row
      // starts, they waited on memory (4% of (8, 21, 128, 128), one thread).
      if maximaTaken, let indices, indexStride == 1 {
        prefetchLines(rowOrigin(indices, r &+ 1), bytes: n &* MemoryLayout<I>.stride)
      }
      // (A separate loop: as a masked store in the loop below, it made
      // each load of targets[i] wait for the store: 6% of the pass.)
      if soft != nil { for i in 0..<n { targets[i] = 0 } }
      for i in 0..<n {
        counts[i] = targets[i] >= 0 ? 1 : 0
        nextMaxima[i] = xNext[S.offset(i, xs)]
        sum[i] = 0
        a[i] = 0
        b[i] = 0
      }
      // Coefficients: probabilities, or the smoothing share of indices.
      func coefficients(_ c: Int) {
        let xc = x0 + c &* cs, wc = w[c]
        if let t0 {
          let tc = t0 + c &* tcs
          for i in 0..<n {
            let ac = wc * ((1 - eps) * tc[S.offset(i, ts)].asDouble + uniform)
            a[i] += ac
            b[i] += ac == 0 ? 0 : ac * xc[S.offset(i, xs)].asDouble
          }
        } else if eps > 0 && wc != 0 {
          for i in 0..<n { b[i] += uniform * wc * xc[S.offset(i, xs)].asDouble }
        }
      }
      // The next row's classes are asked for four to six classes ahead of
      // the sweep that takes their maxima (see above).
      let prefetchesNext = S.self == UnitStep.self && xNext != x0
      var prefetched = 0
      // More than `sumClasses` classes: the float sums go to Double (in
      // `lse`, unused until the losses) that many classes at a time. Summed
      // whole in float32, a language model's (N, vocabulary, T) logits of
      // 10^6 classes were 2.7e-6 off, 2^25 classes 4% (found by an
      // adversarial review). Up to 32 classes nothing changes.
      let flushes = classes > Self.sumClasses
      if flushes { for i in 0..<n { lse[i] = 0 } }
      var sinceFlush = 0
      var c = 0
      while c < classes {
        if flushes && sinceFlush >= Self.sumClasses {
          for i in 0..<n {
            lse[i] += sum[i].asDouble
            sum[i] = 0
          }
          sinceFlush = 0
        }
        while prefetchesNext && prefetched < Swift.min(classes, c &+ 6) {
          prefetchLines(xNext + prefetched &* cs, bytes: rowBytes)
          prefetched &+= 1
        }
        let xc = x0 + c &* cs, xn = xNext + c &* cs
        if let g0, c &+ 1 < classes {
          // Two classes at a time: each position's sum and next maximum
          // loaded and stored once per pair (the sum in the same order).
          let gc = streaming ? ex + c &* n : g0 + c &* gcs, gd = gc + (streaming ? n : gcs), xd = xc + cs, xm = xn + cs
          for i in 0..<n {
            let e = T.fastExpNonPositive(xc[S.offset(i, xs)] - maxima[i])
            let f = T.fastExpNonPositive(xd[S.offset(i, xs)] - maxima[i])
            gc[S.offset(i, gs)] = e
            gd[S.offset(i, gs)] = f
            sum[i] = (sum[i] + e) + f
            let u = xn[S.offset(i, xs)], v = xm[S.offset(i, xs)]
            let m = u > nextMaxima[i] ? u : nextMaxima[i]
            nextMaxima[i] = v > m ? v : m
          }
          coefficients(c)
          coefficients(c &+ 1)
          c &+= 2
          sinceFlush &+= 2
          continue
        }
        if let g0 {
          let gc = streaming ? ex + c &* n : g0 + c &* gcs
          for i in 0..<n {
            let e = T.fastExpNonPositive(xc[S.offset(i, xs)] - maxima[i])
            gc[S.offset(i, gs)] = e
            sum[i] += e
            let v = xn[S.offset(i, xs)]
            nextMaxima[i] = v > nextMaxima[i] ? v : nextMaxima[i]
          }
        } else {
          for i in 0..<n {
            sum[i] += T.fastExpNonPositive(xc[S.offset(i, xs)] - maxima[i])
            let v = xn[S.offset(i, xs)]
            nextMaxima[i] = v > nextMaxima[i] ? v : nextMaxima[i]
          }
        }
        coefficients(c)
        c &+= 1
        sinceFlush &+= 1
      }
      if flushes { for i in 0..<n { sum[i] = T(lse[i] + sum[i].asDouble) } }
      // The logarithms in a loop of their own, so that they vectorise; the
      // per-position gathers of the target's weight and logit in another;
      // then the losses, vectorised, summed in laneSum order. (One loop
      // with a running Double sum waited on that sum's latency at every
      // position.) An ignored position's loss is 0 even where its logits
      // are NaN, and with smoothing its B holds the smoothing terms.
      for i in 0..<n { factor[i] = T.fastLog(sum[i]) }
      if soft == nil && !weights.given && eps == 0 {
        // The same with every weight 1 and no smoothing (A = 1, B = x_y,
        // bitwise), without the weight's load and its test.
        for i in 0..<n where targets[i] >= 0 {
          a[i] = 1
          b[i] = x0[targets[i] &* cs &+ S.offset(i, xs)].asDouble
        }
      } else if soft == nil {
        for i in 0..<n where targets[i] >= 0 {
          let y = targets[i], wy = w[y]
          a[i] = (1 - eps) * wy + uniform * weights.total
          b[i] += wy == 0 ? 0 : (1 - eps) * wy * x0[y &* cs &+ S.offset(i, xs)].asDouble
        }
      }
      let loss = lse
      for i in 0..<n {
        let value = a[i] * (maxima[i].asDouble + factor[i].asDouble) - b[i]
        loss[i] = counts[i] != 0 ? value : 0
      }
      total += laneSum(n) { loss[$0] }
      if !out.isEmpty {
        let base = geometry.flatIndex(sample: sample, row: r)
        for i in 0..<n { out[base &+ i] = loss[i] }
      }
      // g_c = scale (A e_c / S - a_c); an ignored position gets 0, even
      // where its logits are NaN.
      guard let g0 else { continue }
      for i in 0..<n { factor[i] = counts[i] != 0 ? T(scale * a[i] / sum[i].asDouble) : 0 }
      if streaming {
        streamGradient(
          into: g0, n: n, exponentials: ex, factor: factor, counts: counts, targets: targets,
          targetShare: targetShare, scale: scale, scratch: layout, raw)
        continue
      }
      for c in 0..<classes {
        let gc = g0 + c &* gcs
        let wc = w[c]
        if let t0 {
          let tc = t0 + c &* tcs
          for i in 0..<n {
            gc[S.offset(i, gs)] = factor[i] * gc[S.offset(i, gs)] - T(scale * wc * ((1 - eps) * tc[S.offset(i, ts)].asDouble + uniform))
          }
        } else if eps > 0 {
          let ku = T(scale * uniform * wc)
          for i in 0..<n {
            gc[S.offset(i, gs)] = counts[i] != 0 ? factor[i] * gc[S.offset(i, gs)] - ku : 0
          }
        } else {
          for i in 0..<n {
            gc[S.offset(i, gs)] = counts[i] != 0 ? factor[i] * gc[S.offset(i, gs)] : 0
          }
        }
      }
      if t0 == nil {
        for i in 0..<n where targets[i] >= 0 {
          let y = targets[i]
          g0[y &* gcs &+ S.offset(i, gs)] -= targetShare[y]
        }
      }
    }
    if streaming || layout.streamsStagedGradient { simloss_store_fence() }
    return total
  }

  /// The gradient of a row of n positions with class-index targets, whose
  /// exponentials are in scratch (class-major rows of n):
  ///   g_c = factor e_c [- scale uniform w_c] [- scale (1 - eps) w_c at the
  ///   target's class], 0 at an ignored position,
  /// the operations of the in-place sweep in its order, so the results are
  /// bitwise the same. Each class's row is computed into a row of scratch
  /// (2 KiB for rows of 512 float32), in a loop the compiler vectorises,
  /// then streamed (`streamRow`): the gradient is written once and never
  /// read, where the in-place sweep's first store to each line read it from
  /// memory. (-6% on (8, 21, 128, 128), one thread.)
  @inlinable
  func streamGradient(
    into g0: UnsafeMutablePointer<T>, n: Int, exponentials ex: UnsafeMutablePointer<T>,
    factor: UnsafeMutablePointer<T>, counts: UnsafeMutablePointer<T>, targets: UnsafeMutablePointer<Int>,
    targetShare: UnsafeMutablePointer<T>, scale: Double, scratch layout: PositionScratch, _ raw: UnsafeMutableRawPointer
  ) {
    let w = weights.values, gcs = gradientClassStride
    let eps = options.labelSmoothing, uniform = eps / Double(classes)
    let classOf = layout.classOf.pointer(in: raw), row = layout.row.pointer(in: raw)
    // Int32 targets (-1 where ignored), so that the comparison below runs
    // at the width of float32 lanes; classes <= 2^16 here.
    for i in 0..<n { classOf[i] = Int32(truncatingIfNeeded: targets[i]) }
    for c in 0..<classes {
      let e = ex + c &* n
      let share = targetShare[c], cc = Int32(truncatingIfNeeded: c)
      if eps > 0 {
        let ku = T(scale * uniform * w[c])
        for i in 0..<n {
          let v = counts[i] != 0 ? factor[i] * e[i] - ku : 0
          row[i] = classOf[i] == cc ? v - share : v
        }
      } else {
        for i in 0..<n {
          let v = counts[i] != 0 ? factor[i] * e[i] : 0
          row[i] = classOf[i] == cc ? v - share : v
        }
      }
      streamRow(g0 + c &* gcs, from: row, count: n)
    }
  }
}
