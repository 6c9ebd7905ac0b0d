import CSimLoss
import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

// simloss.h, "Version": what the loaded library is. Every figure comes from
// the header's macros, the one place the version is written.

@c @implementation
public func simloss_version_number() -> Int32 {
  Int32(SIMLOSS_VERSION_MAJOR * 10000 + SIMLOSS_VERSION_MINOR * 100 + SIMLOSS_VERSION_PATCH)
}

@c @implementation
public func simloss_version_string() -> UnsafePointer<CChar>? {
  let call = CallGuard.begin()  // Version.string is a static let
  defer { CallGuard.end(call) }
  return Version.string
}

@c @implementation
public func simloss_abi_version() -> Int32 {
  Int32(SIMLOSS_ABI_VERSION)
}

@c @implementation
public func simloss_build_info() -> UnsafePointer<CChar>? {
  let call = CallGuard.begin()  // static lets, KernelDispatch.avx512 among them
  defer { CallGuard.end(call) }
  return Version.buildInfo
}

enum Version {
  /// SIMLOSS_VERSION_STRING as a C string that lives as long as the process
  /// (the header promises static storage). nonisolated(unsafe): a pointer
  /// is not Sendable, but these bytes are never written after the copy.
  nonisolated(unsafe) static let string = permanentCString(SIMLOSS_VERSION_STRING, fallback: "unknown")

  nonisolated(unsafe) static let buildInfo = permanentCString(
    "version=\(SIMLOSS_VERSION_STRING) cpu=\(targetCPU) kernels=\(KernelDispatch.avx512 ? "avx512" : "baseline") "
      + "threads=SIMLOSS_NUM_THREADS-or-processors",
    fallback: "version=unknown")

  /// The CPU the baseline code was compiled for (Package.swift's
  /// SIMLOSS_TARGET_CPU).
  static var targetCPU: String {
    #if SIMLOSS_TARGET_CPU_NATIVE
    "native"
    #elseif SIMLOSS_TARGET_CPU_SKYLAKE
    "skylake"
    #elseif SIMLOSS_TARGET_CPU_ZNVER3
    "znver3"
    #elseif SIMLOSS_TARGET_CPU_ZNVER4
    "znver4"
    #elseif SIMLOSS_TARGET_CPU_HASWELL
    "haswell"
    #else
    "other"
    #endif
  }
}

/// A copy of `s` that is never freed; `fallback` (a literal, static) if the
/// few bytes cannot be allocated, so that the result is never NULL.
func permanentCString(_ s: String, fallback: StaticString) -> UnsafePointer<CChar> {
  s.withCString { source in
    guard let copy = strdup(source) else { return cString(fallback) }
    return UnsafePointer(copy)
  }
}

/// A C string with static lifetime: string literals live in the binary.
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
  UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
