import CPlatformX86
import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

// Which kernels the cross-entropy family runs: the build's own
// (AVX2 and FMA), or SimLossAVX512's, chosen once per process.
//
// This file is compiled for the baseline CPU, as is everything that runs
// before the choice: the check itself must never execute an AVX-512
// instruction. The features come from glibc (<sys/platform/x86.h>), which
// reads them with CPUID and marks a feature active only when the operating
// system also saves its registers (XCR0). CPUID, not /proc/cpuinfo: under
// valgrind, whose virtual CPU has no AVX-512, the file still lists the
// host's flags, and the AVX-512 kernels died with SIGILL there.

enum KernelDispatch {
  /// Whether calls use the AVX-512 kernels: SIMLOSS_KERNELS=baseline turns
  /// them off; otherwise (unset, or any other value) they are on when glibc
  /// reports AVX-512 F, BW, CD, DQ and VL active (x86-64-v4, what
  /// SimLossAVX512 is compiled for). Read once.
  static let avx512: Bool = {
    if let value = getenv("SIMLOSS_KERNELS"), String(cString: value) == "baseline" { return false }
    let required = [x86_cpu_AVX512F, x86_cpu_AVX512BW, x86_cpu_AVX512CD, x86_cpu_AVX512DQ, x86_cpu_AVX512VL]
    return required.allSatisfy { x86_cpu_active(UInt32($0)) }
  }()
}
