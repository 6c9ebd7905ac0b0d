import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

// Which kernels the float32 cross-entropy family runs: the build's own
// (AVX2 and FMA), or SimLossAVX512's, chosen once per process.
//
// This file is compiled for the baseline CPU, as is everything that runs
// before the choice: the check itself must never execute an AVX-512
// instruction. The CPU's features come from /proc/cpuinfo, whose flags the
// kernel lists only when it also saves the AVX-512 registers on a context
// switch (a CPUID bit alone says nothing of the OS).

enum KernelDispatch {
  /// The x86-64-v4 features SimLossAVX512 is compiled for.
  static let requiredFlags: Set<String> = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]

  /// Whether calls use the AVX-512 kernels: SIMLOSS_KERNELS=baseline turns
  /// them off; otherwise (unset, or any other value) they are on when the
  /// CPU has every feature in `requiredFlags`. Read once.
  static let avx512: Bool = {
    if let value = getenv("SIMLOSS_KERNELS"), String(cString: value) == "baseline" { return false }
    return cpuFlags().isSuperset(of: requiredFlags)
  }()

  /// The flags of the first processor in /proc/cpuinfo; empty if it cannot
  /// be read.
  static func cpuFlags() -> Set<String> {
    guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0, let line {
      let text = String(cString: line)
      guard text.hasPrefix("flags") else { continue }
      guard let colon = text.firstIndex(of: ":") else { return [] }
      return Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }
    return []
  }
}

/// A float32 view as itself, for a generic caller that has checked
/// T == Float.
@inline(__always)
func asFloat<T>(_ v: TensorView<T>) -> TensorView<Float> { unsafeBitCast(v, to: TensorView<Float>.self) }

@inline(__always)
func asFloat<T>(_ v: TensorView<T>?) -> TensorView<Float>? { v.map { unsafeBitCast($0, to: TensorView<Float>.self) } }
