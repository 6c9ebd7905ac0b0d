// Which instruction set a call's loss kernels are compiled for.
//
// The kernels of the cross-entropy family are generic over a `KernelTarget`
// type that does nothing but name the instruction set. A module compiled
// for another instruction set (SimLossAVX512) specialises them with a type
// of its own, so that its copies of every kernel carry that type in their
// symbols: two modules that specialised the same generic function for the
// same types would each emit a copy under one name, the linker would keep
// one of them, and the baseline code could end up calling the AVX-512
// copy.
//
// So what SimLossAVX512 reaches must be either generic over the kernel
// target (specialised there under names that mention `AVX512`) or not
// `@inlinable` (compiled once, here, for the baseline). An `@inlinable`
// function that is not generic over the target is copied into SimLossAVX512
// when that module inlines it, and whatever of the copy is emitted as a
// function of its own (a closure, a thunk, a specialisation) carries the
// name of the baseline copy: BlockPlan.sampleSums is not `@inlinable` for
// that reason. (Small `@inline(__always)` helpers without closures, such as
// streamRow and prefetchLines, are inlined whole and emit nothing of their
// own.) Whether such a function is emitted depends on the optimiser
// (a refactor elsewhere once made one appear), so the rule is checked on the
// built library, not by review: Tests/c/check_kernels.py (ctest) fails when
// a function outside SimLossAVX512's holds an AVX-512 instruction.

/// An instruction set the kernels can be compiled for.
@usableFromInline package protocol KernelTarget {}

/// The instruction set of this build (Package.swift, SIMLOSS_TARGET_CPU:
/// AVX2 and FMA unless built for the build machine).
@usableFromInline package enum BaselineKernels: KernelTarget {}
