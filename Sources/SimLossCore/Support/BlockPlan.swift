/// How a reduction over `samples x rows x rowLength` elements is cut into
/// blocks of about `targetElements`, for threads and for determinism.
///
/// A sample with many rows is split into several blocks, each giving one
/// partial sum; small samples are grouped, several to a block, each giving
/// its own sum. The cut depends on the shape only, and partial sums are added
/// in block order, so per-sample sums are bitwise the same for any thread
/// count.
@usableFromInline
struct BlockPlan {
  @usableFromInline let samples: Int
  @usableFromInline let rows: Int
  /// > 0 when each sample is split into this many blocks.
  @usableFromInline let blocksPerSample: Int
  @usableFromInline let rowsPerBlock: Int
  /// Samples per block when samples are grouped.
  @usableFromInline let samplesPerBlock: Int
  @usableFromInline let blockCount: Int

  /// About 64 KiB of float32 per block: large enough that thread start-up
  /// is amortised, small enough to balance two to dozens of threads.
  @usableFromInline static var targetElements: Int { 16_384 }

  /// `targetElements` other than the default suits a kernel that gains
  /// from more rows per block (one that pipelines row after row).
  @inlinable
  init(samples: Int, rows: Int, rowLength: Int, targetElements: Int = Self.targetElements) {
    self.samples = samples
    self.rows = rows
    let perSample = rows * rowLength
    if perSample >= targetElements && rows > 1 {
      rowsPerBlock = max(1, targetElements / rowLength)
      blocksPerSample = (rows + rowsPerBlock - 1) / rowsPerBlock
      samplesPerBlock = 0
      blockCount = samples * blocksPerSample
    } else {
      rowsPerBlock = rows
      blocksPerSample = 0
      samplesPerBlock = max(1, targetElements / max(1, perSample))
      blockCount = (samples + samplesPerBlock - 1) / samplesPerBlock
    }
  }

  /// Sums `rowSum(sample, rows)` over every row of every sample, in
  /// parallel; returns one sum per sample.
  ///
  /// - Throws: `.outOfMemory` (naming `what`) when the sums cannot be
  ///   allocated; then no row has been visited.
  ///
  /// Not `@inlinable`, like the other overload: compiled once, for the
  /// baseline instruction set. Inlined into SimLossAVX512, the thunks of its
  /// closures, whose names no kernel target distinguishes, were emitted
  /// there with AVX-512 instructions under the same names as the baseline
  /// copies, and the linker may keep either (check_kernels.py caught one).
  /// The cost is one indirect call of `rowSum` per block.
  @usableFromInline
  func sampleSums(_ what: String, _ rowSum: (_ sample: Int, _ rows: Range<Int>) -> Double) throws -> HeapArray<Double> {
    try sampleSums(what, scratchBytes: 0) { s, rows, _ in rowSum(s, rows) }
  }

  /// The same with one call per block of whole samples instead of one
  /// per sample: `blockSums(samples, sums)` writes the sum of each sample
  /// of the range to `sums[sample]`, in an order of its own (so the result
  /// depends on the shape only, as above). For samples of a few elements
  /// ((N, 4) boxes), where a closure call per sample was a third of the
  /// time. A plan that splits samples runs one sample per call.
  @usableFromInline
  func groupedSampleSums(
    _ what: String, _ blockSums: (_ samples: Range<Int>, _ sums: UnsafeMutablePointer<Double>) -> Void
  ) throws -> HeapArray<Double> {
    let sums = try HeapArray<Double>(zeroed: samples, what: "\(what): one sum per sample")
    let group = blocksPerSample > 0 ? 1 : samplesPerBlock
    forEachBlock((samples + group - 1) / group) { b in
      blockSums((b * group)..<min(samples, (b + 1) * group), sums.base)
    }
    return sums
  }

  /// The same, handing each call a scratch buffer of `scratchBytes` bytes
  /// (64-byte aligned, uninitialised), one per thread, allocated once for
  /// the call: a row of a broadcast dimension may be longer than memory,
  /// so the scratch is allocated where its failure can be thrown.
  @usableFromInline
  func sampleSums(
    _ what: String, scratchBytes: Int,
    _ rowSum: (_ sample: Int, _ rows: Range<Int>, _ scratch: UnsafeMutableRawPointer) -> Double
  ) throws -> HeapArray<Double> {
    let sums = try HeapArray<Double>(zeroed: samples, what: "\(what): one sum per sample")
    let partials = try HeapArray<Double>(zeroed: blocksPerSample > 0 ? blockCount : 0, what: "\(what): one sum per block")
    func block(_ b: Int, _ scratch: UnsafeMutableRawPointer) {
      if blocksPerSample > 0 {
        let sample = b / blocksPerSample
        let first = (b % blocksPerSample) * rowsPerBlock
        partials[b] = rowSum(sample, first..<min(rows, first + rowsPerBlock), scratch)
      } else {
        for s in (b * samplesPerBlock)..<min(samples, (b + 1) * samplesPerBlock) {
          sums[s] = rowSum(s, 0..<rows, scratch)
        }
      }
    }
    if scratchBytes > 0 {
      let doubles = scratchBytes / 8 + (scratchBytes % 8 == 0 ? 0 : 1)
      try forEachBlock(blockCount, doubles: doubles, ints: 0, what: what) { b, scratch, _ in
        block(b, UnsafeMutableRawPointer(scratch))
      }
    } else {
      // No scratch asked for (most losses): no allocation either.
      var unused = SIMD4<Float>()
      withUnsafeMutableBytes(of: &unused) { unused in
        let scratch = unused.baseAddress!
        forEachBlock(blockCount) { b in block(b, scratch) }
      }
    }
    if blocksPerSample > 0 {
      for s in 0..<samples {
        var total = 0.0
        for k in 0..<blocksPerSample { total += partials[s * blocksPerSample + k] }
        sums[s] = total
      }
    }
    return sums
  }
}
