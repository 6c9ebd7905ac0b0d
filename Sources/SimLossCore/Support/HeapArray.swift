#if canImport(Glibc)
import Glibc
#endif

/// A fixed-size array whose allocation failure is a thrown `.outOfMemory`,
/// not a trap.
///
/// Every array whose size comes from the caller's shapes lives in one of
/// these: one value per sample, per plane or per position. A Swift `Array`
/// traps when malloc fails, and a view may be far larger than the memory
/// behind it (a broadcast dimension of stride 0 and 2^36 elements), so an
/// `Array` of one Double per sample would kill the caller's process. Its
/// memory comes from `Scratch.allocate`: calloc, counted against
/// `scratchByteLimit` until the array is freed or becomes a result
/// (`stopCounting`): a Swift caller may keep results as long as it likes.
/// (The limit bounds the temporaries of the calls in flight.)
///
/// Elements start as all-zero bits (0, false, or a struct of them), hence
/// `BitwiseCopyable`. A class, so that results holding one are cheap to
/// copy; it is written only while the call that made it runs, then read.
/// Package-wide, not public: the public results hand Swift callers arrays
/// (values, not a shared mutable buffer); the C ABI copies from it.
@usableFromInline
package final class HeapArray<Element: BitwiseCopyable>: RandomAccessCollection, @unchecked Sendable {
  @usableFromInline package let count: Int
  @usableFromInline let base: UnsafeMutablePointer<Element>

  /// `count` zeroed elements.
  ///
  /// - Throws: `.outOfMemory`, naming `what`, when they cannot be
  ///   allocated or exceed `scratchByteLimit`.
  @usableFromInline
  package init(zeroed count: Int, what: @autoclosure () -> String) throws {
    guard let scratch = Scratch<Element>.allocate(count) else {
      throw SimLossError(
        .outOfMemory,
        "\(what()): cannot allocate \(count) values of \(MemoryLayout<Element>.stride) bytes")
    }
    self.count = count
    base = scratch.base
  }

  /// Whether its bytes still count against `scratchByteLimit`.
  private var counted = true

  /// Stops counting its bytes against `scratchByteLimit`, once it is the
  /// result a call returns. Called once, by the result's initialiser.
  @usableFromInline
  package func stopCounting() {
    guard counted else { return }
    counted = false
    releaseScratchBytes(Scratch<Element>.bytes(count))
  }

  deinit {
    if counted { Scratch(base: base, count: count).release() } else { free(base) }
  }

  @inlinable package var startIndex: Int { 0 }
  @inlinable package var endIndex: Int { count }

  /// Unchecked beyond a debug assertion: indices are computed by the
  /// library from the shapes that sized the array, never taken from input.
  @inlinable
  package subscript(i: Int) -> Element {
    get {
      assert(i >= 0 && i < count)
      return base[i]
    }
    set {
      assert(i >= 0 && i < count)
      base[i] = newValue
    }
  }
}
