import CProcessorHints
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The threads that run `forEachBlock`'s blocks beside the calling thread.
///
/// Why not Dispatch's `concurrentPerform`, which this replaced: each call
/// woke a pool thread that slept in the kernel, and the caller, done with
/// its share, slept until the last block was done. On these virtual
/// machines a thread sleeping on an idle core takes 15-40 us to wake (the
/// core is halted; measured with a futex, median 28 us), and a call paid
/// that twice: BCE on 2^20 elements, two threads, took 0.43-0.49 ms (median)
/// after a 0.3 ms pause against 0.38 ms back to back.
///
/// Here a worker that has run a call's blocks keeps watching for the next
/// call for `activeWait` before it sleeps, as OpenMP runtimes do (libgomp
/// spins for a few milliseconds by default, Intel's for 200 ms), and the
/// caller waits for the workers' last blocks by watching, not sleeping. A
/// call that finds the workers asleep wakes them and starts its blocks at
/// once; they join when they are up. (Measured, BCE 2^20 on two threads
/// after a 6 MiB memcpy, medians of 9 rounds: Dispatch 0.494 ms; this pool
/// 0.462; the same without the watching, workers asleep at once, 0.527.)
///
/// One call at a time uses the pool: a call made while another runs (from
/// another thread, or from inside a block) runs its blocks on its own
/// thread. A child process after `fork` has none of the parent's threads;
/// its first parallel call starts a pool of its own.
@usableFromInline
final class WorkerPool: @unchecked Sendable {
  /// How long, in nanoseconds, an idle worker watches for the next call
  /// before it sleeps: `SIMLOSS_WAIT_US` microseconds if that holds an
  /// integer in 0...10^7 (10 s), else 1 ms. Read once.
  static let activeWait: Int = {
    if let text = getenv("SIMLOSS_WAIT_US"), let us = Int(String(cString: text)), (0...10_000_000).contains(us) {
      return us &* 1000
    }
    return 1_000_000
  }()

  /// The processors online, read once (sysconf reads a file).
  static let processors = Threads.availableProcessors()

  /// Set by the first caller that finds the pool free; cleared on return.
  let busy = Atomic<Bool>(false)
  /// Counts the calls published; a worker runs each new value once.
  let generation = Atomic<Int>(0)
  /// While a call is open to workers: its generation (the low 47 bits)
  /// times 2^16 plus the number of workers that joined it; 0 once the
  /// caller has closed it.
  let entry = Atomic<Int>(0)
  static var generationMask: Int { 0x7FFF_FFFF_FFFF }
  /// The next block of the current call not yet taken.
  let next = Atomic<Int>(0)
  /// Workers that joined the current call and have finished their part.
  let finished = Atomic<Int>(0)
  /// Workers asleep (or about to sleep) on `wake`.
  let sleepers = Atomic<Int>(0)
  /// Worker threads started.
  let started = Atomic<Int>(0)
  /// Workers that may join the current call besides the caller (read by a
  /// worker before it joins, so an atomic of its own).
  let helpers = Atomic<Int>(0)

  /// The current call's body (a `ConcurrentBody` on the caller's stack),
  /// written by the caller before it publishes the call and read by the
  /// workers that join it. A pointer, not the closure: a worker's copy of
  /// the closure could outlive the call by a few instructions, and the
  /// caller's `withoutActuallyEscaping` checks that none does.
  nonisolated(unsafe) var body: UnsafePointer<ConcurrentBody>? = nil
  nonisolated(unsafe) var blockCount = 0

  let mutex: UnsafeMutablePointer<pthread_mutex_t>
  let wake: UnsafeMutablePointer<pthread_cond_t>

  init() {
    mutex = .allocate(capacity: 1)
    wake = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(wake, nil)
  }

  // Never deinitialised: the pool lives as long as the process (or, after a
  // fork, is abandoned with the threads the child does not have).

  /// The pool of this process, or nil while the creation of a pool is
  /// being retried after a fork.
  nonisolated(unsafe) static var current: WorkerPool? = nil
  /// Guards the creation of `current` (a spin lock: it is held for the
  /// time of one allocation).
  static let creating = Atomic<Bool>(false)
  /// Whether the fork handler is installed.
  static let forkHandlerInstalled = Atomic<Bool>(false)

  /// The pool, with at least `helpers` worker threads started (fewer if the
  /// system refuses more threads: the caller then runs more blocks).
  static func shared(helpers: Int) -> WorkerPool {
    while creating.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged == false {
      sched_yield()
    }
    defer { creating.store(false, ordering: .releasing) }
    if !forkHandlerInstalled.load(ordering: .relaxed) {
      forkHandlerInstalled.store(true, ordering: .relaxed)
      // In a child, the parent's worker threads do not exist: forget the
      // pool (its memory is the child's copy, left as it is) so that the
      // next call starts another. The creation lock, if another thread of
      // the parent held it at the fork, is released for the same reason.
      pthread_atfork(nil, nil) {
        WorkerPool.current = nil
        WorkerPool.creating.store(false, ordering: .relaxed)
      }
    }
    let pool: WorkerPool
    if let p = current {
      pool = p
    } else {
      pool = WorkerPool()
      current = pool
    }
    while pool.started.load(ordering: .relaxed) < helpers {
      guard pool.startWorker() else { break }
    }
    return pool
  }

  /// Starts one more worker thread; false if the system refuses it.
  func startWorker() -> Bool {
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let context = Unmanaged.passRetained(self).toOpaque()
    let status = pthread_create(&thread, &attributes, { context in
      // Signals go to the application's threads, not to these.
      var all = sigset_t()
      sigfillset(&all)
      pthread_sigmask(SIG_BLOCK, &all, nil)
      Unmanaged<WorkerPool>.fromOpaque(context!).takeRetainedValue().workerLoop()
    }, context)
    guard status == 0 else {
      Unmanaged<WorkerPool>.fromOpaque(context).release()
      return false
    }
    started.add(1, ordering: .relaxed)
    return true
  }

  /// A worker: waits for a call, joins it if there is room, runs blocks
  /// until none is left.
  func workerLoop() -> Never {
    var seen = generation.load(ordering: .acquiring)
    while true {
      seen = waitForCall(after: seen)
      var e = entry.load(ordering: .acquiring)
      var index = -1
      while e >> 16 == seen & Self.generationMask && e & 0xFFFF < helpers.load(ordering: .relaxed) {
        let (exchanged, original) = entry.compareExchange(
          expected: e, desired: e &+ 1, ordering: .acquiringAndReleasing)
        if exchanged {
          index = e & 0xFFFF
          break
        }
        e = original
      }
      guard index >= 0, let body else { continue }
      while true {
        let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
        if b >= blockCount { break }
        body.pointee.body(b, 1 &+ index)
      }
      finished.add(1, ordering: .releasing)
    }
  }

  /// Returns the first generation after `seen`: watched for `activeWait`,
  /// then waited for asleep. Asleep at once when there are more workers
  /// than processors besides the caller's: spinning workers would then
  /// take the processors from the caller and from each other (libgomp
  /// shortens its spin in that case too).
  func waitForCall(after seen: Int) -> Int {
    let oversubscribed = started.load(ordering: .relaxed) >= Self.processors
    let deadline = Self.now() &+ (oversubscribed ? 0 : Self.activeWait)
    var polls = 0
    while true {
      let g = generation.load(ordering: .acquiring)
      if g != seen { return g }
      polls &+= 1
      if polls & 63 == 0 && Self.now() > deadline { break }
      simloss_spin_pause()
    }
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    // Counted before the generation is read again: a caller that publishes
    // after this read sees the sleeper and signals (both sequentially
    // consistent), so no wake-up is lost.
    sleepers.add(1, ordering: .sequentiallyConsistent)
    var g = generation.load(ordering: .sequentiallyConsistent)
    while g == seen {
      pthread_cond_wait(wake, mutex)
      g = generation.load(ordering: .sequentiallyConsistent)
    }
    sleepers.subtract(1, ordering: .relaxed)
    return g
  }

  static func now() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec &* 1_000_000_000 &+ t.tv_nsec
  }

  /// Runs `body(b, worker)` for b in 0..<blockCount on this thread and up
  /// to `workers - 1` pool threads. False, having run nothing, if the pool
  /// is in use by another call.
  func run(_ blockCount: Int, workers: Int, _ body: UnsafePointer<ConcurrentBody>) -> Bool {
    guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
    defer { busy.store(false, ordering: .releasing) }
    self.body = body
    self.blockCount = blockCount
    helpers.store(min(workers &- 1, 0xFFFF), ordering: .relaxed)
    next.store(0, ordering: .relaxed)
    finished.store(0, ordering: .relaxed)
    let g = generation.load(ordering: .relaxed) &+ 1
    entry.store((g & Self.generationMask) << 16, ordering: .releasing)
    generation.store(g, ordering: .sequentiallyConsistent)
    if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
      pthread_mutex_lock(mutex)
      pthread_cond_broadcast(wake)
      pthread_mutex_unlock(mutex)
    }
    while true {
      let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
      if b >= blockCount { break }
      body.pointee.body(b, 0)
    }
    // Closed: a worker that wakes from now on does not join. Those that
    // joined are running their last block at most.
    let joined = entry.exchange(0, ordering: .acquiringAndReleasing) & 0xFFFF
    var polls = 0
    while finished.load(ordering: .acquiring) < joined {
      simloss_spin_pause()
      polls &+= 1
      // A worker whose core was taken by another process: let it run.
      if polls & 1023 == 0 { sched_yield() }
    }
    self.body = nil
    return true
  }
}
