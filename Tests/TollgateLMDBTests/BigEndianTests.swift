import Testing
import TollgateLMDB

extension LMDBTests {
    /// Big-endian integer keys: LMDB's byte order is their numeric order.
    @Suite struct BigEndian {
        static let edgeValues: [UInt64] = [
            0, 1, 127, 128, 255, 256, 257, 65_535, 65_536, 65_537,
            1 << 24, 1 << 32 - 1, 1 << 32, 1 << 56, UInt64(Int64.max), 1 << 63, UInt64.max - 1, UInt64.max,
        ]

        @Test func bytesAreMostSignificantFirst() {
            #expect(UInt64(256).bigEndianBytes == [0, 0, 0, 0, 0, 0, 1, 0])
            #expect(UInt32(0x0102_0304).bigEndianBytes == [1, 2, 3, 4])
            #expect(UInt16(0xABCD).bigEndianBytes == [0xAB, 0xCD])
            #expect(UInt8(7).bigEndianBytes == [7])
            #expect(Int32(-2).bigEndianBytes == [0xFF, 0xFF, 0xFF, 0xFE])
            var buffer = bytes("p")
            buffer.appendBigEndian(UInt16(0x0102))
            buffer.appendBigEndian(UInt32(3))
            #expect(buffer == [0x70, 1, 2, 0, 0, 0, 3])
        }

        @Test(arguments: edgeValues)
        func uint64RoundTrips(_ value: UInt64) {
            #expect(value.bigEndianBytes.count == 8)
            #expect(UInt64(bigEndianBytes: value.bigEndianBytes) == value)
        }

        @Test func everyWidthAndSignRoundTrips() {
            for value in [UInt8.min, 1, 127, 128, .max] { #expect(UInt8(bigEndianBytes: value.bigEndianBytes) == value) }
            for value in [Int8.min, -1, 0, 1, .max] { #expect(Int8(bigEndianBytes: value.bigEndianBytes) == value) }
            for value in [UInt16.min, 255, 256, .max] { #expect(UInt16(bigEndianBytes: value.bigEndianBytes) == value) }
            for value in [Int16.min, -256, -1, 0, 255, .max] { #expect(Int16(bigEndianBytes: value.bigEndianBytes) == value) }
            for value in [UInt32.min, 65_536, .max] { #expect(UInt32(bigEndianBytes: value.bigEndianBytes) == value) }
            for value in [Int32.min, -65_536, -1, 0, .max] { #expect(Int32(bigEndianBytes: value.bigEndianBytes) == value) }
            for value in [Int64.min, -1, 0, 1, .max] { #expect(Int64(bigEndianBytes: value.bigEndianBytes) == value) }
        }

        @Test func wrongLengthsAreRejected() {
            #expect(UInt64(bigEndianBytes: [UInt8]()) == nil)
            #expect(UInt64(bigEndianBytes: [UInt8](repeating: 1, count: 7)) == nil)
            #expect(UInt64(bigEndianBytes: [UInt8](repeating: 1, count: 9)) == nil)
            #expect(UInt32(bigEndianBytes: UInt64(1).bigEndianBytes) == nil)
            #expect(UInt16(bigEndianBytes: [1]) == nil)
            #expect(UInt8(bigEndianBytes: [1, 2]) == nil)
            // Any collection of bytes, e.g. a slice.
            let key = bytes("x") + UInt32(99).bigEndianBytes
            #expect(UInt32(bigEndianBytes: key.dropFirst()) == 99)
            #expect(UInt32(bigEndianBytes: key.dropFirst().dropLast()) == nil)
        }

        /// Keys inserted in a scrambled order come back from the cursor in numeric order.
        @Test func uint64KeysIterateInNumericOrder() throws {
            var generator = SplitMix64(seed: 0x7011_6A7E)
            let random = (0..<2_000).map { _ in generator.next() }
            let all = Array(Set(Self.edgeValues + random))
            let scrambled = all.shuffled(using: &generator)
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "numbers"))
                try env.write { txn in
                    for value in scrambled { try txn.put(bytes("v"), forKey: value.bigEndianBytes, in: table) }
                }
                let inCursorOrder = try env.read { txn in
                    try txn.withCursor(over: table) { cursor in
                        var keys: [UInt64] = []
                        var entry = try cursor.first()
                        while let (key, _) = entry {
                            keys.append(try #require(UInt64(bigEndianBytes: key)))
                            entry = try cursor.next()
                        }
                        return keys
                    }
                }
                #expect(inCursorOrder == all.sorted())
                #expect(inCursorOrder.count == all.count)

                // Ranges by number: [256, 65_536) holds exactly the numbers in it.
                let range = try env.read { txn in
                    try txn.entries(in: table, from: UInt64(256).bigEndianBytes, to: UInt64(65_536).bigEndianBytes)
                }.compactMap { UInt64(bigEndianBytes: $0.key) }
                #expect(range == all.filter { (256..<65_536).contains($0) }.sorted())
                #expect(range.first == 256)
                #expect(range.contains(65_535))

                // Backwards from the end: UInt64.max comes last.
                let last = try env.read { txn in
                    try txn.withCursor(over: table) { cursor in try cursor.last().flatMap { UInt64(bigEndianBytes: $0.key) } }
                }
                #expect(last == UInt64.max)
            }
        }

        /// A compound key (prefix + big-endian number) sorts by prefix, then numerically.
        @Test func compoundKeysSortByPrefixThenNumber() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                var expected: [[UInt8]] = []
                for prefix in ["a", "b"] {
                    for n: UInt32 in [1, 255, 256, 70_000] {
                        var key = bytes(prefix)
                        key.appendBigEndian(n)
                        expected.append(key)
                    }
                }
                try env.write { txn in
                    for key in expected.reversed() { try txn.put([], forKey: key, in: table) }
                }
                #expect(try allEntries(env, table).map(\.key) == expected)
            }
        }
    }
}

/// A small deterministic generator, so a failure can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
