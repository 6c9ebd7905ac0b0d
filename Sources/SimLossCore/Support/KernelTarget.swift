// Which instruction set a call's loss kernels are compiled for.
//
// The kernels of the cross-entropy family are generic over a `KernelTarget`
// type that does nothing but name the instruction set. A module compiled
// for another instruction set (SimLossAVX512) specialises them with a type
// of its own, so that its copies of every kernel carry that type in their
// symbols: two modules that specialised the same generic function for the
// same types would each emit a copy under one name, the linker would keep
// one of them, and the baseline code could end up calling the AVX-512
// copy. Tests/python/test_kernels.py checks the built library for that.

/// An instruction set the kernels can be compiled for.
@usableFromInline package protocol KernelTarget {}

/// The instruction set of this build (Package.swift, SIMLOSS_TARGET_CPU:
/// AVX2 and FMA unless built for the build machine).
@usableFromInline package enum BaselineKernels: KernelTarget {}
