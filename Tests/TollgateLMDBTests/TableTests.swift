import Testing
import TollgateLMDB

extension LMDBTests {
    /// Get, put, delete, ranges, cursors and statistics of one table.
    @Suite struct Tables {
        /// Fills `table` with the keys "a", "b", … (value = key uppercased).
        private func fill(_ env: Environment, _ table: Table, _ keys: [String]) throws {
            try env.write { txn in
                for key in keys { try txn.put(bytes(key.uppercased()), forKey: bytes(key), in: table) }
            }
        }

        @Test func getOfAMissingKeyIsNil() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["a", "c"])
                try env.read { txn in
                    #expect(try txn.value(in: table, forKey: bytes("b")) == nil)
                    #expect(try txn.value(in: table, forKey: bytes("a")) == bytes("A"))
                    #expect(try txn.contains(bytes("c"), in: table))
                    #expect(try !txn.contains(bytes("b"), in: table))
                    let counted = try txn.withValue(in: table, forKey: bytes("c")) { $0.count }
                    #expect(counted == 1)
                    let missing = try txn.withValue(in: table, forKey: bytes("zz")) { _ in Issue.record("called for a missing key") }
                    #expect(missing == nil)
                }
            }
        }

        @Test func tablesAreSeparateAndCached() throws {
            try withScratchEnvironment { env, _ in
                let one = try #require(try env.table(named: "one"))
                let two = try #require(try env.table(named: "two"))
                #expect(one != two)
                #expect(try env.table(named: "one") == one)
                #expect(one.name == "one")
                try env.write { txn in
                    try txn.put(bytes("1"), forKey: bytes("k"), in: one)
                    try txn.put(bytes("2"), forKey: bytes("k"), in: two)
                }
                #expect(try readValue(env, one, "k") == "1")
                #expect(try readValue(env, two, "k") == "2")
            }
        }

        @Test func overwriteReplacesAValue() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["k"])
                try env.write { txn in try txn.put(bytes("second"), forKey: bytes("k"), in: table, mode: .overwrite) }
                #expect(try readValue(env, table, "k") == "second")
                #expect(try entryCount(env, table) == 1)
            }
        }

        /// `.noOverwrite` on an existing key throws `keyExists`, which does not doom the
        /// transaction: the body may catch it and its other work still commits.
        @Test func noOverwriteOnAnExistingKeyThrowsKeyExistsAndTheTransactionStillCommits() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["k"])
                var caught: (any Error)?
                try env.write { txn in
                    try txn.put(bytes("before"), forKey: bytes("other1"), in: table)
                    do {
                        try txn.put(bytes("refused"), forKey: bytes("k"), in: table, mode: .noOverwrite)
                    } catch {
                        caught = error
                    }
                    try txn.put(bytes("after"), forKey: bytes("other2"), in: table)
                    try txn.put(bytes("fresh"), forKey: bytes("new"), in: table, mode: .noOverwrite)
                }
                #expect(caught as? LMDBError == .keyExists)
                #expect(try readValue(env, table, "k") == "K")
                #expect(try readValue(env, table, "other1") == "before")
                #expect(try readValue(env, table, "other2") == "after")
                #expect(try readValue(env, table, "new") == "fresh")
            }
        }

        /// When the body lets `keyExists` escape, the transaction aborts like for any error.
        @Test func anEscapingKeyExistsAbortsTheTransaction() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["k"])
                #expect(throws: LMDBError.keyExists) {
                    try env.write { txn in
                        try txn.put(bytes("x"), forKey: bytes("x"), in: table)
                        try txn.put(bytes("refused"), forKey: bytes("k"), in: table, mode: .noOverwrite)
                    }
                }
                #expect(try allKeys(env, table) == ["k"])
            }
        }

        @Test func deleteReturnsWhetherTheKeyWasThere() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["a", "b"])
                let (first, second, missing) = try env.write { txn in
                    (try txn.delete(bytes("a"), in: table),
                     try txn.delete(bytes("a"), in: table),
                     try txn.delete(bytes("never"), in: table))
                }
                #expect(first)
                #expect(!second)
                #expect(!missing)
                #expect(try allKeys(env, table) == ["b"])
            }
        }

        @Test func emptyValuesAndBinaryKeysRoundTrip() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let binaryKey: [UInt8] = [0, 255, 0, 1]
                let allBytes = (0...255).map { UInt8($0) }
                try env.write { txn in
                    try txn.put([], forKey: bytes("empty"), in: table)
                    try txn.put(allBytes, forKey: binaryKey, in: table)
                }
                try env.read { txn throws in
                    #expect(try txn.value(in: table, forKey: bytes("empty")) == [])
                    #expect(try txn.value(in: table, forKey: binaryKey) == allBytes)
                }
            }
        }

        @Test func anEmptyOrOversizedKeyThrowsBadValueSize() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                for key in [[UInt8](), [UInt8](repeating: 7, count: 512)] {
                    #expect(throws: LMDBError.badValueSize) {
                        try env.write { txn in try txn.put(bytes("v"), forKey: key, in: table) }
                    }
                }
                #expect(try entryCount(env, table) == 0)
            }
        }

        @Test func forEachRangeIncludesTheStartAndExcludesTheEnd() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["a", "b", "c", "d", "e"])
                func visit(from start: String?, to end: String?) throws -> [String] {
                    try env.read { txn in
                        var keys: [String] = []
                        try txn.forEach(in: table, from: start.map(bytes), to: end.map(bytes)) { key, value in
                            keys.append(String(decoding: key, as: UTF8.self))
                            #expect(Array(value) == bytes(String(decoding: key, as: UTF8.self).uppercased()))
                            return .continue
                        }
                        return keys
                    }
                }
                #expect(try visit(from: nil, to: nil) == ["a", "b", "c", "d", "e"])
                #expect(try visit(from: "b", to: "d") == ["b", "c"])
                #expect(try visit(from: "bb", to: "dd") == ["c", "d"]) // bounds need not be keys
                #expect(try visit(from: "c", to: nil) == ["c", "d", "e"])
                #expect(try visit(from: nil, to: "c") == ["a", "b"])
                #expect(try visit(from: "c", to: "c") == [])
                #expect(try visit(from: "d", to: "b") == [])
                #expect(try visit(from: "f", to: nil) == [])
                #expect(try visit(from: "", to: "a") == [])
            }
        }

        @Test func forEachStopsWhenTheVisitorSaysStop() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["a", "b", "c", "d"])
                let visited = try env.read { txn in
                    var visited = 0
                    try txn.forEach(in: table) { _, _ in
                        visited += 1
                        return visited == 2 ? .stop : .continue
                    }
                    return visited
                }
                #expect(visited == 2)
            }
        }

        @Test func entriesHonoursLimitAndBounds() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["a", "b", "c", "d", "e"])
                try env.read { txn in
                    func keys(_ entries: [(key: [UInt8], value: [UInt8])]) -> [String] {
                        entries.map { String(decoding: $0.key, as: UTF8.self) }
                    }
                    #expect(keys(try txn.entries(in: table, limit: 2)) == ["a", "b"])
                    #expect(keys(try txn.entries(in: table, limit: 0)) == [])
                    #expect(keys(try txn.entries(in: table, limit: 99)) == ["a", "b", "c", "d", "e"])
                    #expect(keys(try txn.entries(in: table, from: bytes("b"), to: bytes("e"), limit: 2)) == ["b", "c"])
                    #expect(keys(try txn.entries(in: table, from: bytes("c"), to: bytes("e"))) == ["c", "d"])
                    let values = try txn.entries(in: table, from: bytes("e")).map(\.value)
                    #expect(values == [bytes("E")])
                }
            }
        }

        @Test func cursorMovesFirstLastNextPreviousAndSeeks() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try fill(env, table, ["b", "d", "f"])
                try env.read { txn in
                    try txn.withCursor(over: table) { cursor throws in
                        func key(_ entry: Cursor.Entry?) -> String? {
                            entry.map { String(decoding: $0.key, as: UTF8.self) }
                        }
                        #expect(key(try cursor.first()) == "b")
                        #expect(try cursor.current().map { Array($0.value) } == bytes("B"))
                        #expect(key(try cursor.next()) == "d")
                        #expect(key(try cursor.next()) == "f")
                        #expect(key(try cursor.next()) == nil)
                        #expect(key(try cursor.last()) == "f")
                        #expect(key(try cursor.previous()) == "d")
                        #expect(key(try cursor.previous()) == "b")
                        #expect(key(try cursor.previous()) == nil)
                        #expect(key(try cursor.seek(atLeast: bytes("c"))) == "d")
                        #expect(key(try cursor.seek(atLeast: bytes("d"))) == "d")
                        #expect(key(try cursor.next()) == "f")
                        #expect(key(try cursor.seek(atLeast: bytes("a"))) == "b")
                        #expect(key(try cursor.seek(atLeast: bytes("g"))) == nil)
                        // Every key is ≥ the empty key (LMDB itself rejects an empty key).
                        #expect(key(try cursor.seek(atLeast: [])) == "b")
                    }
                }
            }
        }

        @Test func cursorOnAnEmptyTableFindsNothing() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.read { txn in
                    try txn.withCursor(over: table) { cursor throws in
                        #expect(try cursor.first() == nil)
                        #expect(try cursor.last() == nil)
                        #expect(try cursor.seek(atLeast: bytes("a")) == nil)
                    }
                    #expect(try txn.entries(in: table).isEmpty)
                }
            }
        }

        /// Deleting through the cursor while iterating: after `deleteCurrent`, `next()` yields
        /// the entry that followed the deleted one (none is skipped).
        @Test func deleteCurrentWhileIterating() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let keys = (0..<200).map { UInt32($0).bigEndianBytes }
                try env.write { txn in
                    for key in keys { try txn.put(key, forKey: key, in: table) }
                }
                let visited = try env.write { txn in
                    try txn.withCursor(over: table) { cursor in
                        var visited = 0
                        var entry = try cursor.first()
                        while let (key, _) = entry {
                            visited += 1
                            if let n = UInt32(bigEndianBytes: key), n % 3 != 0 { try txn.deleteCurrent(&cursor) }
                            entry = try cursor.next()
                        }
                        return visited
                    }
                }
                #expect(visited == 200)
                let left: [UInt32?] = try allEntries(env, table).map { UInt32(bigEndianBytes: $0.key) }
                let expectedLeft: [UInt32?] = stride(from: 0, to: 200, by: 3).map { UInt32($0) }
                #expect(left == expectedLeft)

                // Deleting everything, including the last entry.
                try env.write { txn in
                    try txn.withCursor(over: table) { cursor in
                        var entry = try cursor.first()
                        while entry != nil {
                            try txn.deleteCurrent(&cursor)
                            entry = try cursor.next()
                        }
                    }
                }
                #expect(try entryCount(env, table) == 0)
            }
        }

        @Test func removeAllEmptiesOnlyThatTableAndKeepsIt() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let other = try #require(try env.table(named: "other"))
                try fill(env, table, ["a", "b", "c"])
                try fill(env, other, ["x"])
                try env.write { txn in try txn.removeAll(in: table) }
                #expect(try entryCount(env, table) == 0)
                #expect(try allKeys(env, other) == ["x"])
                // The table still exists and takes writes.
                #expect(try env.table(named: "t", create: false) != nil)
                try fill(env, table, ["d"])
                #expect(try allKeys(env, table) == ["d"])
                // removeAll in an aborted transaction leaves everything.
                #expect(throws: TestFailure()) {
                    try env.write { txn in
                        try txn.removeAll(in: table)
                        throw TestFailure()
                    }
                }
                #expect(try allKeys(env, table) == ["d"])
            }
        }

        @Test func statisticsCountWhatWasWritten() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let other = try #require(try env.table(named: "other"))
                try env.write { txn in
                    for n in 0..<1_234 { try txn.put(value100(n), forKey: UInt64(n).bigEndianBytes, in: table) }
                    try txn.put(bytes("v"), forKey: bytes("k"), in: other)
                }
                let stats = try env.read { txn in try txn.statistics(of: table) }
                #expect(stats.entries == 1_234)
                #expect(stats.pageSize == env.info().pageSize)
                #expect(stats.depth >= 2)
                #expect(stats.leafPages > 1)
                #expect(stats.pages == stats.branchPages + stats.leafPages + stats.overflowPages)
                #expect(try entryCount(env, other) == 1)
                try env.write { txn in
                    for n in 0..<234 { try txn.delete(UInt64(n).bigEndianBytes, in: table) }
                }
                #expect(try entryCount(env, table) == 1_000)
            }
        }

        @Test func aValueLargerThanAPageGoesToOverflowPages() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                let big = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                try env.write { txn in try txn.put(big, forKey: bytes("big"), in: table) }
                #expect(try env.read { txn in try txn.value(in: table, forKey: bytes("big")) } == big)
                #expect(try env.read { txn in try txn.statistics(of: table) }.overflowPages > 0)
            }
        }

        @Test func tooManyTablesThrowsTablesFull() throws {
            try withScratchEnvironment({ $0.maxTables = 2 }) { env, _ in
                _ = try env.table(named: "one")
                _ = try env.table(named: "two")
                #expect(throws: LMDBError.tablesFull) { try env.table(named: "three") }
                // The environment goes on working.
                let one = try #require(try env.table(named: "one"))
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: one) }
                #expect(try readValue(env, one, "k") == "v")
            }
        }

        @Test func aMissingTableWithoutCreateIsNil() throws {
            try withScratchEnvironment { env, _ in
                #expect(try env.table(named: "missing", create: false) == nil)
                // And asking did not create it.
                #expect(try env.table(named: "missing", create: false) == nil)
                _ = try env.table(named: "missing")
                #expect(try env.table(named: "missing", create: false) != nil)
            }
        }
    }
}
