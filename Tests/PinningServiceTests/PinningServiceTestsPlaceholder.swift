import Testing
@testable import PinningService
