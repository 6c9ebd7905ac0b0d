// swift-tools-version:6.2
//
// simloss: loss functions for image models, in Swift, behind a C ABI.
//
// One source of truth for build settings (README, "Building"): the CPU target
// and the release-only linker flags live here; CMake runs `swift build` and
// reads nothing twice.
//
// SIMLOSS_TARGET_CPU selects the code generation target. The default, haswell
// (AVX2 + FMA), runs on every x86-64 made since 2013; `native` gives the build
// machine's best (AVX-512 here) and a library that dies with SIGILL elsewhere.
import PackageDescription
#if canImport(Glibc)
import Glibc
#endif

func environment(_ name: String) -> String? {
  guard let value = getenv(name) else { return nil }
  let string = String(cString: value)
  return string.isEmpty ? nil : string
}

/// SIMLOSS_ABI_VERSION from include/simloss.h, the one place it is written:
/// the soname is libsimloss.so.<it>.
func abiVersion() -> String {
  let path = Context.packageDirectory + "/include/simloss.h"
  guard let file = fopen(path, "r") else { return "1" }
  defer { fclose(file) }
  var line = [CChar](repeating: 0, count: 512)
  while fgets(&line, Int32(line.count), file) != nil {
    let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if text.hasPrefix("#define SIMLOSS_ABI_VERSION ") {
      return String(text.dropFirst("#define SIMLOSS_ABI_VERSION ".count).prefix { $0.isNumber })
    }
  }
  return "1"
}

let targetCPU = environment("SIMLOSS_TARGET_CPU") ?? "haswell"
// -fno-math-errno: Swift's squareRoot() goes through a C shim that clang
// otherwise compiles as libm's sqrt, errno and all: a scalar instruction and
// a call on the NaN path, which keeps every loop with a square root scalar.
// Nothing here reads errno.
let kernelFlags: [SwiftSetting] = [
  .unsafeFlags(["-target-cpu", targetCPU, "-Xcc", "-fno-math-errno"]),
  .define("SIMLOSS_TARGET_CPU_\(targetCPU.uppercased())"),
]

let package = Package(
  name: "simloss",
  products: [
    // MARK: - Public API
    // libsimloss.so: the C ABI of include/simloss.h. Build it with
    // `swift build -c release --product simloss -Xswiftc -static-stdlib`
    // (CMakeLists.txt does), so that it needs no Swift runtime at load time.
    .library(name: "simloss", type: .dynamic, targets: ["SimLossABI"]),
    // The Swift API, for Swift programs.
    .library(name: "SimLossCore", targets: ["SimLossCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
  ],
  targets: [
    // MARK: - Public API
    .target(
      name: "SimLossCore",
      dependencies: [.product(name: "RealModule", package: "swift-numerics"), "CSystemShims"],
      swiftSettings: kernelFlags
    ),

    // MARK: - Implementation details
    // Static inline C functions for what Swift cannot say: the prefetch
    // hint (SSIM prefetches the input rows it will read next), non-temporal
    // stores (cross-entropy streams its gradient), the spin-wait hint, the
    // process's affinity and the repair of the runtime's thread id after
    // fork (WorkerPool) (Sources/CSystemShims/system_shims.h). No C types
    // reach the core.
    .systemLibrary(name: "CSystemShims", path: "Sources/CSystemShims"),
    // The hand-written header, imported into Swift so that every @c
    // @implementation is checked against it by the compiler.
    .systemLibrary(name: "CSimLoss", path: "include"),
    // The cross-entropy kernels (float32, float64) compiled again for AVX-512
    // (x86-64-v4: AVX-512 F, BW, CD, DQ, VL); SimLossABI calls them only on
    // a CPU that has it (KernelDispatch.swift). (-target-cpu takes no
    // x86-64-v4; the features come through the C importer's -march.)
    .target(
      name: "SimLossAVX512",
      dependencies: ["SimLossCore"],
      swiftSettings: [.unsafeFlags(["-target-cpu", "x86-64", "-Xcc", "-march=x86-64-v4", "-Xcc", "-fno-math-errno"])]
    ),
    // glibc's x86 CPU features (<sys/platform/x86.h>), for the choice of
    // kernels.
    .systemLibrary(name: "CPlatformX86", path: "Sources/CPlatformX86"),
    .target(
      name: "SimLossABI",
      dependencies: ["SimLossCore", "SimLossAVX512", "CSimLoss", "CPlatformX86"],
      swiftSettings: kernelFlags,
      linkerSettings: [
        // Release only: these flags would also reach the test executables.
        // lld keeps the dynamic symbol table to the version script's list
        // (the default gold linker also lists local Swift metadata there).
        // nodelete: dlclose must not unmap the code that WorkerPool's
        // threads run for the life of the process.
        .unsafeFlags([
          "-use-ld=lld",
          "-Xlinker", "-soname=libsimloss.so.\(abiVersion())",
          "-Xlinker", "--version-script=\(Context.packageDirectory)/include/simloss.map",
          "-Xlinker", "-z", "-Xlinker", "nodelete",
        ], .when(configuration: .release)),
      ]
    ),

    // MARK: - Tests
    .testTarget(
      name: "SimLossCoreTests",
      dependencies: ["SimLossCore"],
      swiftSettings: kernelFlags
    ),
    .testTarget(
      name: "SimLossSSIMTests",
      dependencies: ["SimLossCore"],
      exclude: ["generate_reference.py"],
      swiftSettings: kernelFlags
    ),
  ]
)
