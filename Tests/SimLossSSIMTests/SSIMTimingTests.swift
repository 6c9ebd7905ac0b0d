import SimLossCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Rough timings, not run by default: set SIMLOSS_SSIM_TIMING=1 and use a
// release build (-enable-testing because other test targets use
// @testable imports):
//   SIMLOSS_SSIM_TIMING=1 swift test -c release -Xswiftc -enable-testing \
//     --scratch-path .build-ssim --filter SSIMTimingTests
// Compare with scikit-image on the same shapes (the command is in the
// report of the SSIM issue):
//   structural_similarity(x, y, channel_axis=0, gaussian_weights=True, sigma=1.5,
//                         use_sample_covariance=False, data_range=1.0)

let timingEnabled = getenv("SIMLOSS_SSIM_TIMING") != nil

func seconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// The best of `repeats` runs, in milliseconds.
func bestTime(_ repeats: Int = 7, _ body: () throws -> Void) rethrows -> Double {
  var best = Double.infinity
  for _ in 0..<repeats {
    let start = seconds()
    try body()
    best = min(best, seconds() - start)
  }
  return best * 1000
}

/// Dense views of a pair and a gradient buffer, made once, outside the timed region.
final class TimingBuffers<T: SimLossFloat> {
  let shape: [Int]
  let x: UnsafeMutableBufferPointer<T>, y: UnsafeMutableBufferPointer<T>, g: UnsafeMutableBufferPointer<T>

  init(_ pair: TestPair) {
    shape = pair.shape
    let (xs, ys) = pair.make()
    x = .allocate(capacity: xs.count)
    y = .allocate(capacity: xs.count)
    g = .allocate(capacity: xs.count)
    for i in 0..<xs.count {
      x[i] = T(xs[i])
      y[i] = T(ys[i])
      g[i] = 0
    }
  }

  deinit {
    x.deallocate()
    y.deallocate()
    g.deallocate()
  }

  func ssimTime(_ options: SSIMOptions = .init(), gradient: Bool = false) throws -> Double {
    let xv = try TensorView(name: "x", buffer: x, shape: shape)
    let yv = try TensorView(name: "y", buffer: y, shape: shape)
    let gv = gradient ? try TensorView(name: "gradient", buffer: g, shape: shape) : nil
    return try bestTime { _ = try ssim(xv, yv, options: options, gradient: gv) }
  }

  func msSSIMTime(gradient: Bool = false) throws -> Double {
    let xv = try TensorView(name: "x", buffer: x, shape: shape)
    let yv = try TensorView(name: "y", buffer: y, shape: shape)
    let gv = gradient ? try TensorView(name: "gradient", buffer: g, shape: shape) : nil
    return try bestTime { _ = try msSSIM(xv, yv, gradient: gv) }
  }
}

@Suite("SSIM timing", .enabled(if: timingEnabled))
struct SSIMTimingTests {
  func time<T: SimLossFloat>(_: T.Type, threads: Int) throws -> String {
    try Threads.set(threads)
    defer { try? Threads.set(0) }
    let single = TimingBuffers<T>(TestPair(shape: [1, 3, 512, 512], seed: 501, kind: .mixed(0.7, 0.3), scale: 1))
    let batch = TimingBuffers<T>(TestPair(shape: [8, 3, 256, 256], seed: 502, kind: .mixed(0.7, 0.3), scale: 1))
    let forward = try single.ssimTime()
    let batchForward = try batch.ssimTime()
    let both = try batch.ssimTime(gradient: true)
    let reflect = try batch.ssimTime(.init(border: .reflect), gradient: true)
    let ms = try batch.msSSIMTime()
    let msBoth = try batch.msSSIMTime(gradient: true)
    return "\(T.self), \(threads) thread(s), ms: ssim forward 1x3x512x512 \(forward); 8x3x256x256 forward "
      + "\(batchForward), forward+backward \(both) (reflect \(reflect)); MS-SSIM 8x3x256x256 "
      + "forward \(ms), forward+backward \(msBoth)"
  }

  @Test("timings (printed)")
  func timings() throws {
    for threads in [1, 2] {
      print(try time(Float.self, threads: threads))
      print(try time(Double.self, threads: threads))
    }
  }
}

/// For profilers (perf stat -e cycles:u): SIMLOSS_SSIM_PROFILE=<iterations>
/// runs that many single-threaded calls of one kind, chosen by
/// SIMLOSS_SSIM_PROFILE_MODE: "forward" (1x3x512x512), "backward"
/// (8x3x256x256 forward+backward), "ms" (8x3x256x256 MS-SSIM with gradient).
@Suite("SSIM profile loop", .enabled(if: getenv("SIMLOSS_SSIM_PROFILE") != nil))
struct SSIMProfileLoop {
  @Test("profile loop")
  func loop() throws {
    let iterations = Int(String(cString: getenv("SIMLOSS_SSIM_PROFILE"))) ?? 0
    let mode = getenv("SIMLOSS_SSIM_PROFILE_MODE").map { String(cString: $0) } ?? "forward"
    try Threads.set(1)
    defer { try? Threads.set(0) }
    let shape = mode == "forward" ? [1, 3, 512, 512] : [8, 3, 256, 256]
    let count = shape.reduce(1, *)
    let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    let g = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    defer { x.deallocate(); y.deallocate(); g.deallocate() }
    var r = SplitMix64(seed: 7)
    for i in 0..<count {
      x[i] = Float(r.next())
      y[i] = 0.7 * x[i] + 0.3 * Float(r.next())
      g[i] = 0
    }
    let xv = try TensorView(name: "x", buffer: x, shape: shape)
    let yv = try TensorView(name: "y", buffer: y, shape: shape)
    let gv = try TensorView(name: "g", buffer: g, shape: shape)
    for _ in 0..<iterations {
      switch mode {
      case "forward": _ = try ssim(xv, yv)
      case "backward": _ = try ssim(xv, yv, gradient: gv)
      default: _ = try msSSIM(xv, yv, gradient: gv)
      }
    }
  }
}
