import CSimLoss
import SimLossCore

#if canImport(Glibc)
import Glibc
#endif

// simloss.h, "Status codes": the status of each call, its name, and the
// thread-local message of the last failure.

@c @implementation
public func simloss_status_string(_ status: Int32) -> UnsafePointer<CChar>? {
  switch status {
  case 0: cString("SIMLOSS_OK")
  case 10: cString("SIMLOSS_ERROR_NULL_POINTER")
  case 11: cString("SIMLOSS_ERROR_INVALID_ARGUMENT")
  case 12: cString("SIMLOSS_ERROR_OPTIONS_SIZE")
  case 13: cString("SIMLOSS_ERROR_INVALID_VALUE")
  case 20: cString("SIMLOSS_ERROR_RANK")
  case 21: cString("SIMLOSS_ERROR_SHAPE_MISMATCH")
  case 22: cString("SIMLOSS_ERROR_TOO_SMALL")
  case 23: cString("SIMLOSS_ERROR_OUT_OF_BOUNDS")
  case 24: cString("SIMLOSS_ERROR_OVERLAP")
  case 25: cString("SIMLOSS_ERROR_INVALID_SHAPE")
  case 30: cString("SIMLOSS_ERROR_DTYPE")
  case 31: cString("SIMLOSS_ERROR_DTYPE_MISMATCH")
  case 40: cString("SIMLOSS_ERROR_OUT_OF_MEMORY")
  case 41: cString("SIMLOSS_ERROR_OVERFLOW")
  case 90: cString("SIMLOSS_ERROR_INTERNAL")
  default: cString("unknown status")
  }
}

@c @implementation
public func simloss_last_error() -> UnsafePointer<CChar>? {
  let call = CallGuard.begin()
  defer { CallGuard.end(call) }
  return LastError.message()
}

/// The C status of each core error kind.
func status(for kind: SimLossError.Kind) -> simloss_status {
  switch kind {
  case .nullPointer: SIMLOSS_ERROR_NULL_POINTER
  case .invalidArgument: SIMLOSS_ERROR_INVALID_ARGUMENT
  case .optionsSize: SIMLOSS_ERROR_OPTIONS_SIZE
  case .invalidValue: SIMLOSS_ERROR_INVALID_VALUE
  case .rank: SIMLOSS_ERROR_RANK
  case .shapeMismatch: SIMLOSS_ERROR_SHAPE_MISMATCH
  case .tooSmall: SIMLOSS_ERROR_TOO_SMALL
  case .outOfBounds: SIMLOSS_ERROR_OUT_OF_BOUNDS
  case .overlap: SIMLOSS_ERROR_OVERLAP
  case .invalidShape: SIMLOSS_ERROR_INVALID_SHAPE
  case .dtype: SIMLOSS_ERROR_DTYPE
  case .dtypeMismatch: SIMLOSS_ERROR_DTYPE_MISMATCH
  case .outOfMemory: SIMLOSS_ERROR_OUT_OF_MEMORY
  case .overflow: SIMLOSS_ERROR_OVERFLOW
  case .internal: SIMLOSS_ERROR_INTERNAL
  }
}

/// Runs the body of an exported function: clears this thread's message,
/// and turns a thrown `SimLossError` into its status and message. Nothing a
/// caller passes may reach a trap, so every check throws.
func abiCall(_ body: () throws -> Void) -> simloss_status {
  let call = CallGuard.begin()
  defer { CallGuard.end(call) }
  LastError.set("")
  do {
    try body()
    return SIMLOSS_OK
  } catch let error as SimLossError {
    LastError.set(error.message)
    return status(for: error.kind)
  } catch {
    LastError.set("internal error: \(error)")
    return SIMLOSS_ERROR_INTERNAL
  }
}

/// One message buffer per thread (a pthread key, freed at thread exit), as
/// SQLite's errmsg: valid until the next simloss call on the same thread.
enum LastError {
  static let capacity = 1024

  static let key: pthread_key_t = {
    var key = pthread_key_t()
    // If no key can be had, messages are lost but statuses still work.
    _ = pthread_key_create(&key) { free($0) }
    return key
  }()

  static func buffer() -> UnsafeMutablePointer<CChar>? {
    if let existing = pthread_getspecific(key) {
      return existing.assumingMemoryBound(to: CChar.self)
    }
    guard let fresh = malloc(capacity) else { return nil }
    let p = fresh.assumingMemoryBound(to: CChar.self)
    p[0] = 0
    pthread_setspecific(key, fresh)
    return p
  }

  static func set(_ message: String) {
    guard let p = buffer() else { return }
    var n = 0
    for byte in message.utf8 {
      // Truncate at a character boundary, keeping the terminating NUL.
      if n >= capacity - 1 || (n >= capacity - 4 && byte & 0xC0 != 0x80) { break }
      p[n] = CChar(bitPattern: byte)
      n += 1
    }
    p[n] = 0
  }

  static func message() -> UnsafePointer<CChar> {
    guard let p = buffer() else { return cString("simloss: no memory for the error message") }
    return UnsafePointer(p)
  }
}
