/// How a kernel steps along a row: by 1 (dense rows) or by a run-time
/// stride. Kernels are generic over it, so the dense case is compiled as its
/// own specialisation with unit-stride vector loads even where the compiler
/// chooses not to inline the kernel.
@usableFromInline
protocol Step {
  static func offset(_ i: Int, _ stride: Int) -> Int
}

@usableFromInline
enum UnitStep: Step {
  @inlinable @inline(__always)
  static func offset(_ i: Int, _ stride: Int) -> Int { i }
}

@usableFromInline
enum StridedStep: Step {
  @inlinable @inline(__always)
  static func offset(_ i: Int, _ stride: Int) -> Int { i &* stride }
}

/// A compile-time yes or no, for kernels that must be specialised on an
/// option (weights given, gradient asked for) even where the compiler
/// chooses not to inline them.
@usableFromInline
protocol Flag {
  static var isOn: Bool { get }
}

@usableFromInline
enum On: Flag {
  @inlinable @inline(__always) static var isOn: Bool { true }
}

@usableFromInline
enum Off: Flag {
  @inlinable @inline(__always) static var isOn: Bool { false }
}
