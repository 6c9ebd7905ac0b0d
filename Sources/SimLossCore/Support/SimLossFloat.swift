import RealModule

/// The element types simloss computes on: `Float` and `Double`.
///
/// Kernels are generic over it and `@inlinable`, so that the ABI target,
/// which calls them with concrete types, gets specialised code (a generic
/// kernel called across modules unspecialised runs ~200x slower).
public protocol SimLossFloat: BinaryFloatingPoint, Real, Sendable, SIMDScalar, Codable {
  /// The value widened to `Double`, where loss values accumulate.
  var asDouble: Double { get }
}

extension Float: SimLossFloat {
  @inlinable @inline(__always)
  public var asDouble: Double { Double(self) }
}

extension Double: SimLossFloat {
  @inlinable @inline(__always)
  public var asDouble: Double { self }
}
