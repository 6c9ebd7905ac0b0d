import CSystemShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The process-wide number of threads simloss may use.
///
/// Work is cut into blocks whose boundaries depend only on the shapes, never
/// on the thread count, and partial sums are combined in block order; so the
/// thread count changes the speed of a call and never its result.
public enum Threads {
  /// 0 means "not set": use `defaultCount`.
  static let requested = Atomic<Int>(0)

  /// The largest count `count` accepts.
  public static var maximum: Int { 1024 }

  /// The number of threads calls use now, >= 1. Setting 0 restores
  /// `defaultCount`.
  ///
  /// - Throws: `.invalidArgument` for a value outside 0...`maximum`.
  public static func set(_ n: Int) throws {
    guard (0...maximum).contains(n) else {
      throw SimLossError(.invalidArgument, "num_threads: \(n) is outside 0...\(maximum)")
    }
    // 0 counts the processors again: the process's affinity may have
    // changed since the count was taken (it was taken once, at first use).
    if n == 0 { defaultCache.store(computeDefault(), ordering: .relaxed) }
    requested.store(n, ordering: .relaxed)
  }

  /// Call first in every entry point of the C library, before anything
  /// that may take a lock of the Swift runtime (a `static let`'s first
  /// use, a type's metadata built on first use). In a child process after
  /// fork, the runtime's cached id of the thread that forked is still the
  /// parent's thread's, and another thread that waits for a runtime lock
  /// this thread holds waits for ever (system_shims.h): the stale id is
  /// cleared here. (A gettid system call, 0.16 us here.)
  @inline(__always)
  public static func enter() {
    simloss_repair_runtime_thread_id()
  }

  public static var count: Int {
    let n = requested.load(ordering: .relaxed)
    return n > 0 ? n : defaultCount
  }

  /// `SIMLOSS_NUM_THREADS` if it holds an integer in 1...`maximum`, else the
  /// number of processors this process may run on: counted at first use and
  /// again at each `set(0)`.
  public static var defaultCount: Int {
    let cached = defaultCache.load(ordering: .relaxed)
    if cached > 0 { return cached }
    let n = computeDefault()
    defaultCache.store(n, ordering: .relaxed)
    return n
  }

  /// `defaultCount`, 0 until first counted.
  static let defaultCache = Atomic<Int>(0)

  static func computeDefault() -> Int {
    environmentInteger("SIMLOSS_NUM_THREADS", in: 1...maximum) ?? availableProcessors()
  }

  /// The environment variable `name` if it holds an integer in `range`.
  static func environmentInteger(_ name: String, in range: ClosedRange<Int>) -> Int? {
    guard let text = getenv(name), let n = Int(String(cString: text)), range.contains(n) else { return nil }
    return n
  }

  /// The processors the process may run on (its affinity: `taskset`), or
  /// if the kernel does not say, those online. CPU quotas (a container's
  /// cpu.max) are not read: SIMLOSS_NUM_THREADS covers that case.
  static func availableProcessors() -> Int {
    let allowed = Int(simloss_process_processors())
    return allowed > 0 ? allowed : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
  }
}

/// A closure that is known to be safe to call from several threads (each
/// call touches its own blocks), as `WorkerPool` hands it to its threads.
@usableFromInline
struct ConcurrentBody: @unchecked Sendable {
  @usableFromInline let body: (Int, Int) -> Void
  @inlinable init(_ body: @escaping (Int, Int) -> Void) { self.body = body }
}

/// The number of threads `forEachBlock` runs `blockCount` blocks on now:
/// `Threads.count`, at most one per block, at least 1.
@inlinable
func blockWorkers(_ blockCount: Int) -> Int {
  max(1, min(Threads.count, blockCount))
}

/// Runs `body(b)` for every block `b` in `0..<blockCount`, on up to
/// `Threads.count` threads (this one and `WorkerPool`'s), each taking the
/// next block not yet taken. On a shared machine a thread can lose its core
/// for a while; with contiguous runs fixed in advance the call then waited
/// for it, with blocks taken in turn the other threads take up its share.
/// (Which thread runs a block never changes a result: each block writes its
/// own partial sum.)
@inlinable
func forEachBlock(_ blockCount: Int, _ body: (Int) -> Void) {
  forEachBlock(blockCount, workers: blockWorkers(blockCount)) { b, _ in body(b) }
}

/// The same on `workers` threads (fixed by the caller, who may have set up
/// something per worker), telling each block the worker that runs it, in
/// `0..<max(1, workers)`. All on this thread when the pool is in use (a
/// call from another thread, or from inside a block).
@inlinable
func forEachBlock(_ blockCount: Int, workers: Int, _ body: (_ block: Int, _ worker: Int) -> Void) {
  if workers > 1 && blockCount > 1 && runOnPool(blockCount, workers: workers, body) { return }
  for b in 0..<blockCount { body(b, 0) }
}

/// Not inlinable: one copy of the pool's code, whatever the kernel target.
@usableFromInline
func runOnPool(_ blockCount: Int, workers: Int, _ body: (Int, Int) -> Void) -> Bool {
  let pool = WorkerPool.shared(helpers: workers &- 1)
  return withoutActuallyEscaping(body) { body in
    withUnsafePointer(to: ConcurrentBody(body)) { pool.run(blockCount, workers: workers, $0) }
  }
}
