import CSystemShims

// What the loops over large tensors tell the caches (CSystemShims): reads
// asked for ahead of their use, and writes that bypass the caches.

/// Copies `count` elements from `src` to `dst` with non-temporal stores
/// where `dst` allows (its 64-byte aligned lines; ordinary stores before
/// and after them).
///
/// For an output the call writes once and does not read again: an ordinary
/// store to a line not in cache first reads the line from memory, so
/// writing n bytes moves 2n; streamed, n. The caller calls
/// `simloss_store_fence()` (CSystemShims) before the results may be read
/// by another thread: these stores are weakly ordered.
@inlinable @inline(__always)
func streamRow<T: SimLossFloat>(_ dst: UnsafeMutablePointer<T>, from src: UnsafePointer<T>, count n: Int) {
  var i = 0
  while i < n && Int(bitPattern: dst + i) & 63 != 0 {
    dst[i] = src[i]
    i &+= 1
  }
  if T.self == Float.self {
    let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self)
    while i &+ 16 <= n {
      simloss_stream_float16(d + i, UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self))
      i &+= 16
    }
  } else if T.self == Double.self {
    let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Double.self)
    while i &+ 8 <= n {
      simloss_stream_double8(d + i, UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Double>.self))
      i &+= 8
    }
  }
  while i < n {
    dst[i] = src[i]
    i &+= 1
  }
}

/// Asks for the `bytes` bytes from `p` to be brought into L2, a hint per
/// 64-byte line, for a run that is read soon but that the hardware
/// prefetchers would not fetch in time: the cross-entropy kernel reads its
/// rows as 21 or more runs of 2 KiB at once, more streams than they follow.
/// Cannot fault, for any address.
@inlinable @inline(__always)
func prefetchLines(_ p: UnsafeRawPointer, bytes: Int) {
  // From the start of p's line, so that an unaligned run's last line is
  // asked for too.
  var offset = -(Int(bitPattern: p) & 63)
  while offset < bytes {
    simloss_prefetch(p + offset)
    offset &+= 64
  }
}
