/// The one error type of the core. Its kinds are those of the C API's
/// `simloss_status`; the ABI layer maps one to the other, and the message,
/// which names the argument and the offending values, becomes
/// `simloss_last_error()`.
public struct SimLossError: Error, CustomStringConvertible, Sendable {
  public enum Kind: Sendable {
    case nullPointer
    case invalidArgument
    case optionsSize
    case invalidValue
    case rank
    case shapeMismatch
    case tooSmall
    case outOfBounds
    case overlap
    case invalidShape
    case dtype
    case dtypeMismatch
    case outOfMemory
    case overflow
    case `internal`
  }

  public var kind: Kind
  public var message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}

/// "(2, 3, 8, 8)", the way shapes appear in every message.
@usableFromInline
func describe(shape: [Int]) -> String {
  "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
