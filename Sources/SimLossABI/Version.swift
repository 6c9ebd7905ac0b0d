import CSimLoss
import SimLossCore

// simloss.h, "Version": what the loaded library is.

@c @implementation
public func simloss_version_number() -> Int32 {
  Int32(SIMLOSS_VERSION_MAJOR * 10000 + SIMLOSS_VERSION_MINOR * 100 + SIMLOSS_VERSION_PATCH)
}

@c @implementation
public func simloss_version_string() -> UnsafePointer<CChar>? {
  cString("0.1.0")
}

@c @implementation
public func simloss_abi_version() -> Int32 {
  Int32(SIMLOSS_ABI_VERSION)
}

@c @implementation
public func simloss_build_info() -> UnsafePointer<CChar>? {
  Threads.enter()  // KernelDispatch.avx512 is a static let
  #if SIMLOSS_TARGET_CPU_NATIVE
  return KernelDispatch.avx512
    ? cString("version=0.1.0 cpu=native kernels=avx512 threads=SIMLOSS_NUM_THREADS-or-processors")
    : cString("version=0.1.0 cpu=native kernels=baseline threads=SIMLOSS_NUM_THREADS-or-processors")
  #else
  return KernelDispatch.avx512
    ? cString("version=0.1.0 cpu=haswell kernels=avx512 threads=SIMLOSS_NUM_THREADS-or-processors")
    : cString("version=0.1.0 cpu=haswell kernels=baseline threads=SIMLOSS_NUM_THREADS-or-processors")
  #endif
}

/// A C string with static lifetime: string literals live in the binary.
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
  UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
