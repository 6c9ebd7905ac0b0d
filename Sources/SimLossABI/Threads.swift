import CSimLoss
import SimLossCore

// simloss.h, "Common options": the process-wide thread count.

@c @implementation
public func simloss_set_num_threads(_ n: Int32) -> simloss_status {
  abiCall { try Threads.set(Int(n)) }
}

@c @implementation
public func simloss_get_num_threads() -> Int32 {
  let call = CallGuard.begin()
  defer { CallGuard.end(call) }
  return Int32(clamping: Threads.count)
}
