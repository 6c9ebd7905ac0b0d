/* The compiler's prefetch hint for SimLossCore, which Swift has no
 * intrinsic for (SSIM/PlaneIO.swift). simloss_prefetch(p) asks for the
 * cache line holding p to be brought into L2: a hint, which cannot fault,
 * even for an address no mapping holds, and cannot change a result.
 * Header only: nothing is linked. */
#ifndef SIMLOSS_PREFETCH_H
#define SIMLOSS_PREFETCH_H

static inline void simloss_prefetch(const void *p) { __builtin_prefetch(p, 0, 2); }

/* The same for a line about to be written: prefetchw (the line fetched
 * ready to be modified) where the target has it (PRFCHW, Broadwell and
 * later, every AMD since K8); the default haswell build has not, and
 * compiles it as the read hint above. */
static inline void simloss_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 2); }

#endif
