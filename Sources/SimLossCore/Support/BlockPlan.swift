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
  @inlinable
  func sampleSums(_ rowSum: (_ sample: Int, _ rows: Range<Int>) -> Double) -> [Double] {
    sampleSums(scratchBytes: 0) { s, rows, _ in rowSum(s, rows) }
  }

  /// The same, handing each call a scratch buffer of `scratchBytes` bytes
  /// (16-byte aligned) allocated once per block, not once per sample; none
  /// is allocated for 0.
  @inlinable
  func sampleSums(
    scratchBytes: Int, _ rowSum: (_ sample: Int, _ rows: Range<Int>, _ scratch: UnsafeMutableRawPointer) -> Double
  ) -> [Double] {
    var sums = [Double](repeating: 0, count: samples)
    let bytes = scratchBytes
    if blocksPerSample > 0 {
      var partials = [Double](repeating: 0, count: blockCount)
      partials.withUnsafeMutableBufferPointer { out in
        forEachBlock(blockCount) { b in
          withScratch(bytes) { scratch in
            let sample = b / blocksPerSample
            let first = (b % blocksPerSample) * rowsPerBlock
            out[b] = rowSum(sample, first..<min(rows, first + rowsPerBlock), scratch)
          }
        }
      }
      for s in 0..<samples {
        var total = 0.0
        for k in 0..<blocksPerSample { total += partials[s * blocksPerSample + k] }
        sums[s] = total
      }
    } else {
      sums.withUnsafeMutableBufferPointer { out in
        forEachBlock(blockCount) { b in
          withScratch(bytes) { scratch in
            for s in (b * samplesPerBlock)..<min(samples, (b + 1) * samplesPerBlock) {
              out[s] = rowSum(s, 0..<rows, scratch)
            }
          }
        }
      }
    }
    return sums
  }

  /// Runs `body` with `bytes` of 16-byte aligned scratch; with none asked
  /// for (most losses), with a small stack buffer instead of an allocation.
  @inlinable @inline(__always)
  func withScratch(_ bytes: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
    if bytes == 0 {
      var unused = SIMD4<Float>()
      withUnsafeMutableBytes(of: &unused) { body($0.baseAddress!) }
      return
    }
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
    defer { scratch.deallocate() }
    body(scratch)
  }
}
