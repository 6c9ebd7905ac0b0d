/* Hints to the processor for SimLossCore, which Swift has no intrinsics
 * for: the compiler's prefetch hint and non-temporal stores (used by
 * SSIM/PlaneIO.swift and Support/ProcessorHints.swift), and the spin-wait
 * hint (Support/WorkerPool.swift). Header only: nothing is linked, and the
 * functions inline into the Swift code that calls them, compiled for its
 * target (AVX2, or AVX-512 in SimLossAVX512). */
#ifndef SIMLOSS_PROCESSOR_HINTS_H
#define SIMLOSS_PROCESSOR_HINTS_H

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

#endif
