import Testing
@testable import IPFSProxy
