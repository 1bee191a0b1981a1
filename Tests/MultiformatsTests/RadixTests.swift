import Multiformats
import Testing

/// base58btc and base36 (limb-wise big-number encoding) against the plain digit-at-a-time
/// algorithm, on random inputs of every length up to 80 bytes with and without leading zeros,
/// and back through the decoder.
@Suite struct RadixTests {
    static func reference(_ bytes: [UInt8], _ alphabet: String) -> String {
        let a = Array(alphabet.utf8)
        let radix = UInt32(a.count)
        let zeros = bytes.prefix(while: { $0 == 0 }).count
        var digits: [UInt8] = []
        for b in bytes[zeros...] {
            var carry = UInt32(b)
            for j in 0..<digits.count {
                carry += UInt32(digits[j]) << 8
                digits[j] = UInt8(carry % radix)
                carry /= radix
            }
            while carry > 0 {
                digits.append(UInt8(carry % radix))
                carry /= radix
            }
        }
        return String(decoding: [UInt8](repeating: a[0], count: zeros) + digits.reversed().map { a[Int($0)] }, as: UTF8.self)
    }

    @Test func limbsMatchTheDigitAlgorithm() throws {
        let base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        let base36 = "0123456789abcdefghijklmnopqrstuvwxyz"
        var rng = SystemRandomNumberGenerator()
        for length in 0...80 {
            for trial in 0..<20 {
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if trial % 4 == 0 { for i in 0..<min(length, trial / 4 + 1) { bytes[i] = 0 } }
                if trial == 1 { bytes = [UInt8](repeating: 255, count: length) }
                let b58 = Multibase.base58btc.encodeWithoutPrefix(bytes)
                #expect(b58 == Self.reference(bytes, base58), "\(bytes)")
                #expect(try Multibase.base58btc.decodeWithoutPrefix(Substring(b58)) == bytes)
                let b36 = Multibase.base36.encodeWithoutPrefix(bytes)
                #expect(b36 == Self.reference(bytes, base36), "\(bytes)")
            }
        }
    }
}
