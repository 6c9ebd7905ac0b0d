import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Scratch memory: every allocation whose size comes from the caller's
// shapes (the kernels' rows and rings, per-worker blocks, `HeapArray`).
//
// Implementation goals, in order of priority: a failed or absurd allocation
// becomes a thrown `.outOfMemory`, never a trap (`UnsafeMutablePointer
// .allocate` traps when malloc fails, which would kill the caller's
// process); sizes are computed with overflow checks before anything is
// allocated; memory comes zeroed (calloc), so the padding columns the
// vector kernels read past the end of a row hold 0 and every result is a
// function of the inputs only; or, for the per-block scratch of the
// kernels, whose every element is written before it is read, uninitialised
// and 64-byte aligned (no zeroing per call, no cache-line splits).

/// The most bytes of temporaries (this file's allocations, `HeapArray`s
/// included) that the calls in flight may hold together, and so the largest
/// one: half the memory this process may use (`usableMemoryBytes`), at most
/// 2^36 (64 GiB). A request past it is refused with `.outOfMemory` rather
/// than handed to an overcommitting kernel, which grants far more than the
/// machine has and kills the process when the pages are touched:
/// cross-entropy over a broadcast row of 2^31
/// classes held 16 GiB of class weights and 16 GiB of per-thread scratch,
/// each under the former limit of 64 GiB for one allocation, and the OOM
/// killer ended the process on this 24 GiB machine.
@usableFromInline let scratchByteLimit: Int = min(1 << 36, (usableMemoryBytes() ?? (1 << 37)) / 2)

/// The physical memory, or the memory limit of this process's cgroup when
/// that is lower (a container's: the kernel enforces it with the same OOM
/// killer), or its address-space limit (RLIMIT_AS, `ulimit -v`) when lower
/// still: malloc fails past it, and the Swift runtime's own small
/// allocations, which cannot fail gracefully, need the rest. Only the
/// process's own cgroup is read (v2 `memory.max`, v1
/// `memory.limit_in_bytes`), not its ancestors'. Nil when unknown.
func usableMemoryBytes() -> Int? {
  let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageBytes = sysconf(Int32(_SC_PAGESIZE))
  guard pages > 0, pageBytes > 0, pages <= Int.max / pageBytes else { return nil }
  var bytes = pages * pageBytes
  var limit = rlimit()
  if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur < UInt(Int.max) {  // RLIM_INFINITY is UInt.max
    bytes = min(bytes, Int(limit.rlim_cur))
  }
  // /proc/self/cgroup: "0::/path" (v2) and "N:...memory...:/path" (v1).
  for line in firstBytes(of: "/proc/self/cgroup", 4096).split(separator: "\n") {
    let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
    guard fields.count == 3 else { continue }
    let path = fields[2] == "/" ? "" : String(fields[2])
    var file: String? = nil
    if fields[0] == "0" && fields[1].isEmpty { file = "/sys/fs/cgroup\(path)/memory.max" }
    if fields[1].split(separator: ",").contains("memory") {
      file = "/sys/fs/cgroup/memory\(path)/memory.limit_in_bytes"
    }
    // "max" (v2) or a page-rounded Int.max (v1) when there is no limit.
    if let file, let limit = Int(firstBytes(of: file, 64).split(separator: "\n").first ?? ""), limit > 0 {
      bytes = min(bytes, limit)
    }
  }
  return bytes
}

/// Up to `capacity` bytes from the start of the file at `path`, as text;
/// empty when it cannot be read.
private func firstBytes(of path: String, _ capacity: Int) -> Substring {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else { return "" }
  defer { close(fd) }
  return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
    var filled = 0
    while filled < capacity {
      let n = read(fd, buffer.baseAddress! + filled, capacity - filled)
      if n <= 0 { break }
      filled += n
    }
    return Substring(String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<filled]), as: UTF8.self))
  }
}

/// `scratchByteLimit` as the error messages name it.
@usableFromInline var limitOfTemporaries: String {
  "the limit of temporaries, \(scratchByteLimit >> 20) MiB (half the usable memory, at most 64 GiB)"
}

/// The bytes `Scratch` holds now, for every call in flight.
let scratchBytesHeld = Atomic<Int>(0)

/// Counts `bytes` as held if that keeps the total within `scratchByteLimit`.
func holdScratchBytes(_ bytes: Int) -> Bool {
  var held = scratchBytesHeld.load(ordering: .relaxed)
  while bytes <= scratchByteLimit &- held {
    let (exchanged, original) = scratchBytesHeld.compareExchange(
      expected: held, desired: held &+ bytes, ordering: .relaxed)
    if exchanged { return true }
    held = original
  }
  return false
}

/// Gives back bytes counted by `holdScratchBytes`.
func releaseScratchBytes(_ bytes: Int) { scratchBytesHeld.subtract(bytes, ordering: .relaxed) }

/// `count` zeroed elements from calloc, or nil. The caller frees them with
/// `release()`.
struct Scratch<Element> {
  let base: UnsafeMutablePointer<Element>
  let count: Int

  /// The bytes `count` elements take, as allocated and as counted against
  /// `scratchByteLimit` (at least one element).
  static func bytes(_ count: Int) -> Int { max(1, count) &* MemoryLayout<Element>.stride }

  /// nil when calloc fails or the bytes would take the temporaries held
  /// past `scratchByteLimit`.
  static func allocate(_ count: Int) -> Scratch? {
    counted(count) { calloc($0, 1) }
  }

  /// `count` elements, not zeroed, 64-byte aligned, or nil (same limit).
  /// For scratch whose every element is written before it is read: the
  /// per-thread scratch of SSIM and MS-SSIM (megabytes for MS-SSIM), which
  /// calloc zeroed on every call, and of `BlockPlan.sampleSums` (TV, BCE,
  /// cross-entropy). The kernels' rows are whole multiples of
  /// 64 bytes apart, so with this alignment their four-lane loads and stores
  /// never straddle a cache line (malloc's 16-byte alignment splits up to
  /// half of them).
  static func allocateUninitialized(_ count: Int) -> Scratch? {
    counted(count) { bytes in
      var raw: UnsafeMutableRawPointer? = nil
      return posix_memalign(&raw, 64, bytes) == 0 ? raw : nil
    }
  }

  /// `count` elements from `allocate(bytes)`, their bytes counted first and
  /// given back if it fails.
  private static func counted(_ count: Int, _ allocate: (Int) -> UnsafeMutableRawPointer?) -> Scratch? {
    guard count >= 0, count <= scratchByteLimit / MemoryLayout<Element>.stride, holdScratchBytes(bytes(count))
    else { return nil }
    guard let raw = allocate(bytes(count)) else {
      releaseScratchBytes(bytes(count))
      return nil
    }
    return Scratch(base: raw.bindMemory(to: Element.self, capacity: max(1, count)), count: count)
  }

  func release() {
    free(UnsafeMutableRawPointer(base))
    releaseScratchBytes(Self.bytes(count))
  }
}

/// Runs `body(block, scratch, slots)` for every block in `0..<blockCount`
/// on the library's threads (`forEachBlock`), each thread with its own
/// `doubles` Doubles (uninitialised, 64-byte aligned, as
/// `allocateUninitialized`) and `ints` Ints (zeroed), allocated here, by
/// the calling thread, once for the call.
///
/// Allocated per block instead, a worker thread's megabytes of MS-SSIM
/// scratch went back to its malloc arena after every block, the arena gave
/// the pages back to the kernel, and the next block faulted them in again:
/// some 225 page faults per MS-SSIM call on two threads, 3% of its time.
///
/// - Throws: `.outOfMemory` (naming `what`) when the scratch cannot be
///   allocated; then no block has run.
@usableFromInline
func forEachBlock(
  _ blockCount: Int, doubles: Int, ints: Int, what: String,
  _ body: (_ block: Int, _ scratch: UnsafeMutablePointer<Double>, _ slots: UnsafeMutablePointer<Int>) -> Void
) throws {
  // Whole cache lines per worker, so that every worker's scratch is
  // 64-byte aligned.
  let doubleStride = roundUp8(max(1, doubles)), intStride = max(1, ints)
  // As many threads as the limit of temporaries leaves room for: the
  // thread count must not change a call's status (TV of broadcast wide
  // images was OK on 1 to 64 threads and OUT_OF_MEMORY on 256, whose 256
  // copies of the scratch did not fit).
  let perWorker = (doubleStride &+ intStride) &* 8
  let room = max(0, scratchByteLimit &- scratchBytesHeld.load(ordering: .relaxed))
  let workers = max(1, min(blockWorkers(blockCount), room / perWorker))
  let doubleCount = try scratchCount(what, workers, doubleStride), intCount = try scratchCount(what, workers, intStride)
  // Each released on every path: one that is not keeps its bytes counted
  // against `scratchByteLimit` for the life of the process.
  guard let scratch = Scratch<Double>.allocateUninitialized(doubleCount) else {
    throw SimLossError(
      .outOfMemory, "\(what): cannot allocate \(workers) x \(doubles) Doubles of scratch, one per thread")
  }
  defer { scratch.release() }
  guard let slots = Scratch<Int>.allocate(intCount) else {
    throw SimLossError(.outOfMemory, "\(what): cannot allocate \(workers) x \(ints) Ints of scratch, one per thread")
  }
  defer { slots.release() }
  forEachBlock(blockCount, workers: workers) { b, worker in
    body(b, scratch.base + worker &* doubleStride, slots.base + worker &* intStride)
  }
}

/// The product of `factors` as an element count, or `.outOfMemory` when it
/// overflows `Int` or exceeds `scratchByteLimit` for 8-byte elements.
@usableFromInline
func scratchCount(_ what: String, _ factors: Int...) throws -> Int {
  var total = 1
  for f in factors {
    let (p, overflow) = total.multipliedReportingOverflow(by: max(0, f))
    guard !overflow, p <= scratchByteLimit / 8 else {
      throw SimLossError(
        .outOfMemory,
        "\(what): scratch of \(factors.map(String.init).joined(separator: " x ")) elements "
          + "exceeds \(limitOfTemporaries)")
    }
    total = p
  }
  return total
}

/// Sum of counts, with the same limit.
func scratchSum(_ what: String, _ counts: [Int]) throws -> Int {
  var total = 0
  for c in counts {
    let (s, overflow) = total.addingReportingOverflow(c)
    guard !overflow, s <= scratchByteLimit / 8 else {
      throw SimLossError(
        .outOfMemory,
        "\(what): scratch exceeds \(limitOfTemporaries)")
    }
    total = s
  }
  return total
}

/// Rounds `n` up to a multiple of 8 (the SIMD width of the kernels).
@inline(__always)
func roundUp8(_ n: Int) -> Int { (n &+ 7) & ~7 }

/// One block's scratch cut into typed arrays, each on its own 64-byte line:
/// `reserve` adds an array (checking the size), `bytes` is what to ask
/// `BlockPlan.sampleSums` for, and a slice's `pointer(in:)` finds the array
/// in the scratch the block is handed. Reserving before anything runs is
/// what lets a size too large for memory become a thrown `.outOfMemory`.
@usableFromInline
struct ScratchLayout {
  @usableFromInline let what: String
  @usableFromInline private(set) var bytes = 0

  @inlinable
  init(_ what: String) { self.what = what }

  /// Reserves `count` elements of E.
  ///
  /// - Throws: `.outOfMemory` when the total passes `scratchByteLimit`.
  @inlinable
  mutating func reserve<E>(_: E.Type, _ count: Int) throws -> ScratchSlice<E> {
    let offset = bytes
    // Lines of 64 bytes, with room for the line that rounds up.
    let lines = max(0, count) / 64 &* MemoryLayout<E>.stride &+ MemoryLayout<E>.stride
    guard lines <= (scratchByteLimit &- offset) / 64 else {
      throw SimLossError(
        .outOfMemory,
        "\(what): scratch of \(count) elements of \(MemoryLayout<E>.stride) bytes exceeds \(limitOfTemporaries)")
    }
    bytes = offset &+ (max(0, count) &* MemoryLayout<E>.stride &+ 63) & ~63
    return ScratchSlice(offset: offset, count: count)
  }
}

/// An array of a `ScratchLayout`.
@usableFromInline
struct ScratchSlice<E> {
  @usableFromInline let offset: Int
  @usableFromInline let count: Int

  @inlinable
  init(offset: Int, count: Int) {
    self.offset = offset
    self.count = count
  }

  @inlinable @inline(__always)
  func pointer(in scratch: UnsafeMutableRawPointer) -> UnsafeMutablePointer<E> {
    (scratch + offset).bindMemory(to: E.self, capacity: count)
  }
}

/// `forEachBlock` over one block that does nothing, for the tests of the
/// bytes it holds (Tests/SimLossCoreTests).
package func testingBlockScratch(doubles: Int, ints: Int) throws {
  try forEachBlock(1, doubles: doubles, ints: ints, what: "test") { _, _, _ in }
}

/// `scratchByteLimit` and `usableMemoryBytes()`, for the tests.
package var testingScratchByteLimit: Int { scratchByteLimit }
package var testingUsableMemoryBytes: Int? { usableMemoryBytes() }

/// A result of `count` values (zeroed, never touched), for the tests of the
/// bytes results hold.
package func testingResult(count: Int) throws -> LossValues {
  LossValues(try HeapArray<Double>(zeroed: count, what: "test result"))
}
