import CSystemShims

#if canImport(Glibc)
import Glibc
#endif

/// What every entry point of the C library runs its body inside:
///
///     let call = CallGuard.begin()
///     defer { CallGuard.end(call) }
///
/// - fork(): the process's pthread_atfork handlers wait, before a fork, for
///   the calls in flight on other threads to return, and hold new calls back
///   until the fork is done. A call initialises lazy globals (`static let`s)
///   and builds type metadata under locks of the Swift runtime the first time
///   it needs them; forked in the middle, the child inherited a half-run
///   once, and its first call waited for it for ever (an adversarial review:
///   57 forks of 200 made during another thread's first call). The child then
///   starts with no call in flight, no scratch held (the parent's calls would
///   have kept theirs counted for ever, `scratchBytesHeld`) and no worker
///   pool (the threads were the parent's).
/// - Cancellation is off during a call (pthread_setcancelstate), and a
///   pending cancel acts when the call returns: cancelled inside a once
///   (reading /proc for the memory limit, `scratchByteLimit`), a thread left
///   every later call of every thread waiting for it.
///
/// The state lives in C storage (`simloss_fork_state_`), not in Swift
/// globals, which are themselves initialised under a once. Only the
/// `state` and `forking` getters below may call its functions (each object
/// file that emits them has its own copy of their storage).
public enum CallGuard {
  /// Starts a call of the C library (see above); returns what `end` needs.
  /// The first thing of every entry point, before anything that may build
  /// type metadata or run a once (a generic function would: a call of
  /// `run<R>(_ body: () -> R)` built simloss_status's metadata before its
  /// body, and a fork then still left that once half-run in the child);
  /// it calls `Threads.enter()` first.
  public static func begin() -> Int32 {
    Threads.enter()
    var cancellation: Int32 = 0
    pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), &cancellation)
    let state = self.state  // a call of its getter, once per call
    installForkHandlers(state)
    enterCall(state)
    return cancellation
  }

  /// Ends the call `begin` started, given what it returned.
  public static func end(_ cancellation: Int32) {
    _ = simloss_atomic_add_(state, -1)
    pthread_setcancelstate(cancellation, nil)
  }

  /// [0] calls in flight, [1] forks waiting, [2] the handlers' installation.
  /// Never inlined: the one caller of `simloss_fork_state_`, whose storage
  /// each object file that calls it gets a copy of (WMO inlined
  /// `installForkHandlers` into MS-SSIM's code, whose object then held a
  /// second state and installed the handlers a second time).
  @inline(never)
  static var state: UnsafeMutablePointer<Int> { simloss_fork_state_() }

  /// 1 on the thread that forks, during the fork (system_shims.h).
  @inline(never)
  static var forking: UnsafeMutablePointer<Int> { simloss_forking_thread_() }

  /// Counts a call in flight, first waiting while a fork is waiting for
  /// the calls in flight (the second test closes the window between the
  /// first and the count).
  static func enterCall(_ state: UnsafeMutablePointer<Int>) {
    // The forking thread's own calls (from the application's fork
    // handlers, which run between ours) pass: they waited for ever.
    if forking.pointee != 0 {
      _ = simloss_atomic_add_(state, 1)
      return
    }
    var tries = 0
    while true {
      if simloss_atomic_load_(state + 1) == 0 {
        _ = simloss_atomic_add_(state, 1)
        if simloss_atomic_load_(state + 1) == 0 { return }
        _ = simloss_atomic_add_(state, -1)
      }
      // A fork takes milliseconds; one that waits out its bound, seconds:
      // then sleep rather than spin (cancellation is off, begin()).
      tries &+= 1
      if tries < 100 { sched_yield() } else { usleep(100) }
    }
  }

  /// Installs the pthread_atfork handlers once per process; a thread that
  /// finds another installing them waits until it is done. Also called
  /// before the worker pool is made (`WorkerPool.shared`), for the Swift
  /// API's calls, which do not go through `begin`.
  ///
  /// state[2] is 0, then the pid of the process whose thread installs them,
  /// then -1. A child forked during the installation finds its parent's pid
  /// there, which no thread of its own will replace: it starts the
  /// installation again. (Forked after the parent's pthread_atfork returned
  /// but before the -1, the child has the handlers and installs them once
  /// more: each fork then runs them twice, which does no harm.)
  public static func installForkHandlers() { installForkHandlers(state) }

  static func installForkHandlers(_ state: UnsafeMutablePointer<Int>) {
    let installed = state + 2
    while true {
      let seen = simloss_atomic_load_(installed)
      if seen == -1 { return }
      let me = Int(getpid())
      if seen != me {  // 0, or a parent's pid
        guard simloss_atomic_exchange_if_(installed, seen, me) != 0 else { continue }
        // Should the system refuse (no memory), forks go unguarded, as they
        // did before this guard; the pool then also survives in a child,
        // with no threads, and each of its calls runs on the calling thread.
        _ = pthread_atfork(
          { CallGuard.prepareFork() }, { CallGuard.parentAfterFork() }, { CallGuard.childAfterFork() })
        simloss_atomic_store_(installed, -1)
        return
      }
      sched_yield()  // another thread of this process installs them
    }
  }

  /// Before fork, in the forking thread: holds new calls back and waits for
  /// those in flight. At most 10 s: a fork from a signal handler that
  /// interrupted a call on this same thread would wait for ever, and goes
  /// ahead unguarded instead. state[1] counts the forks waiting: on glibc
  /// 2.34 and later two threads' forks may overlap, and a flag cleared by
  /// the first one's parent handler let calls start before the second.
  /// Cancellation is off meanwhile (usleep is a cancellation point, and a
  /// thread cancelled here left state[1] set: every later call waited).
  static func prepareFork() {
    var cancellation: Int32 = 0
    pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), &cancellation)
    forking.pointee = 1
    _ = simloss_atomic_add_(state + 1, 1)
    // A deadline, not a count of sleeps: usleep(100) took 170-190 us here,
    // and 100,000 of them 17-19 s.
    let deadline = WorkerPool.now() &+ 10_000_000_000
    while simloss_atomic_load_(state) > 0 && WorkerPool.now() < deadline {
      usleep(100)
    }
    pthread_setcancelstate(cancellation, nil)
  }

  static func parentAfterFork() {
    _ = simloss_atomic_add_(state + 1, -1)
    forking.pointee = 0
  }

  /// In the child, whose only thread is the one that forked, outside any
  /// call: nothing in flight, no scratch held, no pool.
  static func childAfterFork() {
    forking.pointee = 0
    simloss_atomic_store_(state, 0)
    scratchBytesHeld.store(0, ordering: .relaxed)
    WorkerPool.current.store(0, ordering: .relaxed)
    simloss_atomic_store_(state + 1, 0)
  }
}
