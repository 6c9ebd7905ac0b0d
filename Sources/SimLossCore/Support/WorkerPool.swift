import CSystemShims
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
/// that twice. Dispatch's threads also did not survive a fork: a forked
/// child's calls ran on one thread, or hung.
///
/// Here a worker that has run a call's blocks keeps watching for the next
/// call for `activeWait` before it sleeps, as OpenMP runtimes do (libgomp
/// spins for a few milliseconds by default, Intel's for 200 ms), and the
/// caller waits for the workers' last blocks by watching, not sleeping. A
/// call that finds workers asleep wakes as many as it may use and starts
/// its blocks at once; they join when they are up. (Measured, BCE 2^20 on
/// two threads after a 6 MiB memcpy, medians of 21 rounds: Dispatch 0.709
/// ms; this pool 0.469; the same with the workers asleep at once, 0.508.)
///
/// Only workers that have a processor of their own spin: the first
/// `processors - 1`, and none while calls come from more than one thread
/// (then a spinning worker would take a processor from a caller).
///
/// One call at a time uses the pool: a call made while another runs (from
/// another thread, or from inside a block) runs its blocks on its own
/// thread. Nothing here holds a lock that a fork could leave locked in the
/// child.
///
/// After `fork`, the child has none of the parent's threads; its first
/// parallel call starts a pool of its own. (Every entry point of the C
/// library also repairs the calling thread's Swift runtime thread id,
/// `Threads.enter`: in the thread that forked it is the parent's, and a
/// worker or another thread waiting for a runtime lock that thread held
/// waited for ever.)
@usableFromInline
final class WorkerPool: @unchecked Sendable {
  /// How long, in nanoseconds, an idle worker watches for the next call
  /// before it sleeps: `SIMLOSS_WAIT_US` microseconds if that holds an
  /// integer in 0...10^7 (10 s), else 1 ms. Read once.
  static let activeWait = (Threads.environmentInteger("SIMLOSS_WAIT_US", in: 0...10_000_000) ?? 1000) &* 1000

  /// The processors this process may run on when the pool was made (a
  /// forked child that pins itself makes its own pool).
  let processors = Threads.availableProcessors()

  /// `WorkerPool.activeWait`, read by the call that makes the pool: a
  /// worker that read the lazy global itself did so outside any call, where
  /// CallGuard does not hold a fork back, and a fork then could leave its
  /// once half-run (the child's worker spun for ever).
  let activeWait = WorkerPool.activeWait

  /// Worker threads at most: one for each thread a call may use besides
  /// the caller.
  static var capacity: Int { Threads.maximum &- 1 }

  /// How long, in nanoseconds, idle workers sleep at once after a call
  /// found the pool in use by another thread's call.
  static var contentionPause: Int { 10_000_000 }

  /// Set by the caller that has the pool; cleared when it returns.
  let busy = Atomic<Bool>(false)
  /// Counts the calls published; a worker looks at each new value once.
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
  /// Workers that may join the current call besides the caller (read by a
  /// worker before it joins, so an atomic of its own).
  let helpers = Atomic<Int>(0)
  /// Worker slots claimed: a thread started in each, or being started, or
  /// none if the system refused it.
  let started = Atomic<Int>(0)
  /// Set when the system refused a thread: none is asked for again.
  let refused = Atomic<Bool>(false)
  /// Until when (CLOCK_MONOTONIC, ns) idle workers sleep at once.
  let noSpinUntil = Atomic<Int>(0)

  /// The current call's body (a `ConcurrentBody` on the caller's stack),
  /// written by the caller before it publishes the call and read by the
  /// workers that join it. A pointer, not the closure: a worker's copy of
  /// the closure could outlive the call by a few instructions, and the
  /// caller's `withoutActuallyEscaping` checks that none does.
  nonisolated(unsafe) var body: UnsafePointer<ConcurrentBody>? = nil
  nonisolated(unsafe) var blockCount = 0

  /// Per worker slot: whether its worker sleeps (set by the worker, cleared
  /// by whoever wakes it), and the semaphore it sleeps on.
  let sleeping: UnsafeMutablePointer<Atomic<Bool>>
  let semaphores: UnsafeMutablePointer<sem_t>
  /// Per worker slot: its thread (pthread_t), 0 until it runs; and the
  /// thread of the call in progress. A call made from one of these while
  /// the pool is busy is nested in a block, not another application
  /// thread's call.
  let workerThreads: UnsafeMutablePointer<Atomic<UInt>>
  let owner = Atomic<UInt>(0)

  init() {
    sleeping = .allocate(capacity: Self.capacity)
    semaphores = .allocate(capacity: Self.capacity)
    workerThreads = .allocate(capacity: Self.capacity)
    for k in 0..<Self.capacity {
      (sleeping + k).initialize(to: Atomic(false))
      (workerThreads + k).initialize(to: Atomic(0))
      sem_init(semaphores + k, 0, 0)
    }
  }

  /// Only a pool that lost the race to become `current`, which has no
  /// threads, is ever deinitialised; `current` lives as long as the
  /// process (or, after a fork, is abandoned in the child with the threads
  /// the child does not have).
  deinit {
    for k in 0..<Self.capacity { sem_destroy(semaphores + k) }
    sleeping.deinitialize(count: Self.capacity)
    sleeping.deallocate()
    workerThreads.deinitialize(count: Self.capacity)
    workerThreads.deallocate()
    semaphores.deallocate()
  }

  /// The pool of this process: the address of an unmanaged, retained
  /// `WorkerPool`, 0 until the first parallel call and in a child after a
  /// fork. (An address, not a pointer: an atomic pointer is not Sendable.)
  static let current = Atomic<Int>(0)
  /// The pool, with `helpers` worker slots or more (fewer if the system
  /// refuses threads: the caller then runs more blocks).
  static func shared(helpers: Int) -> WorkerPool {
    // In a child, the parent's worker threads do not exist: the fork
    // handlers forget the pool (the child's copy is left as it is) so that
    // the next call starts another. Installed before any pool is made, as
    // one made before could outlive a fork in the child, without threads.
    CallGuard.installForkHandlers()
    let pool: WorkerPool
    if let p = UnsafeRawPointer(bitPattern: current.load(ordering: .acquiring)) {
      pool = Unmanaged<WorkerPool>.fromOpaque(p).takeUnretainedValue()
    } else {
      let made = Unmanaged.passRetained(WorkerPool())
      let (exchanged, other) = current.compareExchange(
        expected: 0, desired: Int(bitPattern: made.toOpaque()), ordering: .acquiringAndReleasing)
      if exchanged {
        pool = made.takeUnretainedValue()
      } else {
        made.release()
        pool = Unmanaged<WorkerPool>.fromOpaque(UnsafeRawPointer(bitPattern: other)!).takeUnretainedValue()
      }
    }
    pool.startWorkers(upTo: min(helpers, capacity))
    return pool
  }

  /// Claims slots and starts a worker in each until there are `count`.
  func startWorkers(upTo count: Int) {
    while true {
      let s = started.load(ordering: .relaxed)
      if s >= count || refused.load(ordering: .relaxed) { return }
      guard started.compareExchange(expected: s, desired: s &+ 1, ordering: .relaxed).exchanged else { continue }
      if !startWorker(slot: s) {
        // The slot stays empty: no one waits for a worker there.
        refused.store(true, ordering: .relaxed)
        return
      }
    }
  }

  /// What a new worker thread is handed.
  final class Start {
    let pool: WorkerPool
    let slot: Int
    init(_ pool: WorkerPool, _ slot: Int) {
      self.pool = pool
      self.slot = slot
    }
  }

  /// Starts the worker of `slot`; false if the system refuses the thread.
  func startWorker(slot: Int) -> Bool {
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    // Ordinary scheduling, whatever the policy of the thread that happens
    // to make the first call (a real-time one would otherwise pass on).
    var parameters = sched_param()
    parameters.sched_priority = 0
    pthread_attr_setinheritsched(&attributes, Int32(PTHREAD_EXPLICIT_SCHED))
    pthread_attr_setschedpolicy(&attributes, SCHED_OTHER)
    pthread_attr_setschedparam(&attributes, &parameters)
    let context = Unmanaged.passRetained(Start(self, slot)).toOpaque()
    let status = pthread_create(&thread, &attributes, { context in
      // Asynchronous signals go to the application's threads. Those the
      // code itself raises stay unblocked, as in Dispatch's threads: a
      // blocked SIGSEGV kills the process without running its handler.
      var blocked = sigset_t()
      sigfillset(&blocked)
      for signal in [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGPIPE, SIGPROF] {
        sigdelset(&blocked, signal)
      }
      // SETMASK, not BLOCK: not the mask of the thread that started it.
      pthread_sigmask(SIG_SETMASK, &blocked, nil)
      simloss_take_process_affinity()
      let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
      start.pool.workerThreads[start.slot].store(UInt(pthread_self()), ordering: .relaxed)
      start.pool.workerLoop(slot: start.slot)
    }, context)
    guard status == 0 else {
      Unmanaged<Start>.fromOpaque(context).release()
      return false
    }
    return true
  }

  /// A worker: waits for a call, joins it if there is room, runs blocks
  /// until none is left.
  func workerLoop(slot: Int) -> Never {
    var seen = generation.load(ordering: .acquiring)
    while true {
      seen = waitForCall(after: seen, slot: slot)
      var e = entry.load(ordering: .acquiring)
      var index = -1
      while e >> 16 == seen & Self.generationMask && e & 0xFFFF < helpers.load(ordering: .acquiring) {
        let (exchanged, original) = entry.compareExchange(
          expected: e, desired: e &+ 1, ordering: .acquiringAndReleasing)
        if exchanged {
          index = e & 0xFFFF
          break
        }
        e = original
      }
      guard index >= 0 else { continue }
      if let body { runBlocks(body, worker: 1 &+ index) }
      finished.add(1, ordering: .releasing)
    }
  }

  /// Returns the first generation after `seen`: watched for `activeWait`
  /// if this worker has a processor of its own and calls come from one
  /// thread at a time, then waited for asleep.
  func waitForCall(after seen: Int, slot: Int) -> Int {
    if activeWait > 0 && slot < processors &- 1 {
      let deadline = Self.now() &+ activeWait
      var polls = 0
      while true {
        let g = generation.load(ordering: .acquiring)
        if g != seen { return g }
        polls &+= 1
        if polls & 63 == 0 {
          let t = Self.now()
          if t > deadline || t < noSpinUntil.load(ordering: .relaxed) { break }
        }
        simloss_spin_pause()
      }
    }
    // Marked asleep before the generation is read again, and a caller
    // publishes before it reads the mark (all sequentially consistent): so
    // either this reads the new generation or the caller sees the mark and
    // posts. Whichever clears the mark first decides.
    sleeping[slot].store(true, ordering: .sequentiallyConsistent)
    if generation.load(ordering: .sequentiallyConsistent) != seen,
      sleeping[slot].exchange(false, ordering: .sequentiallyConsistent)
    {
      return generation.load(ordering: .acquiring)
    }
    while sem_wait(semaphores + slot) != 0 {}  // interrupted: wait again
    return generation.load(ordering: .acquiring)
  }

  /// Runs the current call's blocks not yet taken, as `worker`.
  func runBlocks(_ body: UnsafePointer<ConcurrentBody>, worker: Int) {
    while true {
      let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
      if b >= blockCount { return }
      body.pointee.body(b, worker)
    }
  }

  /// Whether `thread` is the current call's or a worker: its call, made
  /// while the pool is busy, is nested in a block (MS-SSIM's bands).
  func isOwnThread(_ thread: UInt) -> Bool {
    if owner.load(ordering: .relaxed) == thread { return true }
    for k in 0..<min(started.load(ordering: .relaxed), Self.capacity)
    where workerThreads[k].load(ordering: .relaxed) == thread {
      return true
    }
    return false
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
    let me = UInt(pthread_self())
    guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
      if !isOwnThread(me) { noSpinUntil.store(Self.now() &+ Self.contentionPause, ordering: .relaxed) }
      return false
    }
    owner.store(me, ordering: .relaxed)
    defer {
      owner.store(0, ordering: .relaxed)
      busy.store(false, ordering: .releasing)
    }
    self.body = body
    self.blockCount = blockCount
    let helpers = min(workers &- 1, 0xFFFF)
    self.helpers.store(helpers, ordering: .relaxed)
    next.store(0, ordering: .relaxed)
    finished.store(0, ordering: .relaxed)
    // A generation whose low 47 bits are 0 would look like a closed entry.
    var g = generation.load(ordering: .relaxed) &+ 1
    if g & Self.generationMask == 0 { g &+= 1 }
    entry.store((g & Self.generationMask) << 16, ordering: .releasing)
    generation.store(g, ordering: .sequentiallyConsistent)
    // Wake the sleepers among the workers this call may use (see
    // waitForCall).
    for k in 0..<min(helpers, started.load(ordering: .relaxed))
    where sleeping[k].load(ordering: .sequentiallyConsistent) {
      if sleeping[k].exchange(false, ordering: .sequentiallyConsistent) { sem_post(semaphores + k) }
    }
    runBlocks(body, worker: 0)
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
