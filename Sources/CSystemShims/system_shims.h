/* What SimLossCore needs from C and Swift cannot say: the compiler's
 * prefetch hint and non-temporal stores (SSIM/PlaneIO.swift,
 * Support/ProcessorHints.swift), the spin-wait hint, the processors this
 * process may run on, a repair of the Swift runtime's thread id after
 * fork (Support/WorkerPool.swift, Support/Threads.swift), and the state of
 * the fork guard (Support/CallGuard.swift). Header only:
 * nothing is linked, and the functions inline into the Swift code that
 * calls them, compiled for its target (AVX2, or AVX-512 in SimLossAVX512). */
#ifndef SIMLOSS_SYSTEM_SHIMS_H
#define SIMLOSS_SYSTEM_SHIMS_H

/* Asks for the cache line holding p to be brought into L2: a hint, which
 * cannot fault, even for an address no mapping holds, and cannot change a
 * result. */
static inline void simloss_prefetch(const void *p) { __builtin_prefetch(p, 0, 2); }

/* The same for a line about to be written: prefetchw (the line fetched
 * ready to be modified) where the target has it (PRFCHW, Broadwell and
 * later, every AMD since K8); the default haswell build has not, and
 * compiles it as the read hint above. */
static inline void simloss_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 2); }

/* 64 bytes stored around the caches (movntps/movntpd): the line is not read
 * first, as an ordinary store of a line not in cache reads it, and does not
 * displace cached data. p must be 64-byte aligned. Such stores are weakly
 * ordered: simloss_store_fence() before another thread may read them. */
typedef float simloss_float16 __attribute__((ext_vector_type(16)));
typedef double simloss_double8 __attribute__((ext_vector_type(8)));
static inline void simloss_stream_float16(float *p, simloss_float16 v) {
  __builtin_nontemporal_store(v, (simloss_float16 *)p);
}
static inline void simloss_stream_double8(double *p, simloss_double8 v) {
  __builtin_nontemporal_store(v, (simloss_double8 *)p);
}
static inline void simloss_store_fence(void) { __builtin_ia32_sfence(); }

/* In a loop that waits for another thread's store: tells the core so
 * (x86 pause), which then issues the loop's loads slower, leaves the
 * execution units to a sibling hyperthread, and does not mis-speculate the
 * loop's exit. */
static inline void simloss_spin_pause(void) { __builtin_ia32_pause(); }

/* glibc's sched_getaffinity and sched_setaffinity, which <sched.h> declares
 * only under _GNU_SOURCE (and Swift's Glibc module is built without it),
 * under names of our own so as not to clash with that declaration. */
extern int simloss_sched_getaffinity_(int pid, unsigned long size, unsigned long *mask)
    __asm__("sched_getaffinity");
extern int simloss_sched_setaffinity_(int pid, unsigned long size, const unsigned long *mask)
    __asm__("sched_setaffinity");
extern int simloss_getpid_(void) __asm__("getpid");

/* Room for 1024 processors, glibc's cpu_set_t. */
enum { SIMLOSS_AFFINITY_WORDS = 1024 / (8 * sizeof(unsigned long)) };

/* The affinity of the process's main thread into mask; 0 on success. */
static inline int simloss_process_affinity_(unsigned long mask[SIMLOSS_AFFINITY_WORDS]) {
  return simloss_sched_getaffinity_(simloss_getpid_(), SIMLOSS_AFFINITY_WORDS * sizeof(unsigned long), mask);
}

/* The number of processors the process's main thread may run on (taskset,
 * sched_setaffinity; not CPU quotas), or 0 if the kernel does not say. */
static inline int simloss_process_processors(void) {
  unsigned long mask[SIMLOSS_AFFINITY_WORDS] = {0};
  if (simloss_process_affinity_(mask) != 0) return 0;
  int n = 0;
  for (int i = 0; i < SIMLOSS_AFFINITY_WORDS; i++) n += __builtin_popcountl(mask[i]);
  return n;
}

/* Lets the calling thread run where the process's main thread may: a thread
 * inherits the affinity of the thread that created it, and a worker created
 * by a call from a thread pinned to one processor would stay pinned there. */
static inline void simloss_take_process_affinity(void) {
  unsigned long mask[SIMLOSS_AFFINITY_WORDS] = {0};
  if (simloss_process_affinity_(mask) == 0) simloss_sched_setaffinity_(0, sizeof mask, mask);
}

/* The Swift runtime's locks (swift::threading_impl::linux::ulock_t, which
 * guard lazily built type metadata, swift_once among them) store their
 * owner's thread id, which each thread caches in a thread-local variable
 * the first time it locks one. fork() copies that cache into the child,
 * where the thread that forked has another id: if it holds such a lock and
 * another thread waits for it, the wait (FUTEX_LOCK_PI) looks for the
 * parent's thread and the unlock (FUTEX_UNLOCK_PI) is refused, so the
 * waiter waits for ever. simloss_repair_runtime_thread_id() clears a stale
 * cached id (the runtime then reads the right one). Threads.enter() calls
 * it first in every entry point of the C library, where the thread holds no
 * runtime lock (a lock taken with the stale id and released with the right
 * one would stay locked). Only for a library linked with the static
 * Swift runtime (SIMLOSS_STATIC_SWIFT_RUNTIME, set by CMakeLists.txt),
 * where that variable is part of this library; a change of its name in a
 * future toolchain fails that link. */
extern int simloss_gettid_(void) __asm__("gettid");
#ifdef SIMLOSS_STATIC_SWIFT_RUNTIME
extern __thread int simloss_runtime_tid_ __asm__("_ZZN5swift14threading_impl5linux13ulock_get_tidEvE3tid");
static inline void simloss_repair_runtime_thread_id(void) {
  if (simloss_runtime_tid_ != 0 && simloss_runtime_tid_ != simloss_gettid_()) simloss_runtime_tid_ = 0;
}
#else
static inline void simloss_repair_runtime_thread_id(void) {}
#endif

/* The state CallGuard.swift keeps for fork(): [0] the calls of the C library
 * in flight, [1] the forks waiting for them to end, [2] how far its
 * pthread_atfork handlers are installed (0, then the installing process's
 * pid, then -1). In C storage, zero before any code runs: a Swift global is
 * initialised on first use under a once, and a fork while another thread
 * ran that once left the child waiting for it for ever. On a cache line of
 * its own (every call adds to [0] and subtracts). A function-local static
 * of an inline function: each object file that emits the function has its
 * own copy, so exactly one function may call it (CallGuard.state, never
 * inlined); Tests/c/check_library.sh checks that the library holds one. */
static inline long *simloss_fork_state_(void) {
  static long state[8] __attribute__((aligned(64)));
  return state;
}
/* 1 on the thread that is forking, between the library's prepare handler
 * and its parent or child handler: the application's own fork handlers run
 * in between and may call the library, which must not wait for that fork.
 * The same rule as simloss_fork_state_: one caller, CallGuard.forking. */
static inline long *simloss_forking_thread_(void) {
  static __thread long forking;
  return &forking;
}
static inline long simloss_atomic_load_(const long *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void simloss_atomic_store_(long *p, long v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline long simloss_atomic_add_(long *p, long v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline int simloss_atomic_exchange_if_(long *p, long expected, long desired) {
  return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

#endif
