import Foundation
import Testing
import TollgateLMDB

extension LMDBTests {
    /// `LMDBError`: matching, equality by code, descriptions.
    @Suite struct Errors {
        @Test func catchByPatternMatchesTheCode() throws {
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes("v"), forKey: bytes("k"), in: table) }
                var matched = false
                do {
                    try env.write { txn in try txn.put(bytes("w"), forKey: bytes("k"), in: table, mode: .noOverwrite) }
                    Issue.record("no error")
                } catch LMDBError.mapFull {
                    Issue.record("matched the wrong code")
                } catch LMDBError.keyExists {
                    matched = true
                }
                #expect(matched)
            }
        }

        @Test func tildeEqualsMatchesAnyErrorValue() {
            let error: any Error = LMDBError(code: EIO, context: "somewhere")
            #expect(LMDBError.ioError ~= error)
            #expect(!(LMDBError.noSpace ~= error))
            #expect(!(LMDBError.ioError ~= TestFailure()))
            switch error {
            case LMDBError.noSpace: Issue.record("wrong case")
            case LMDBError.ioError: break
            default: Issue.record("no case matched")
            }
            let typed = LMDBError.mapFull
            switch typed {
            case .keyExists: Issue.record("wrong case")
            case .mapFull: break
            default: Issue.record("no case matched")
            }
        }

        @Test func equalityAndHashingUseOnlyTheCode() {
            let a = LMDBError(code: EIO, context: "one place")
            let b = LMDBError(code: EIO, context: "another place")
            #expect(a == b)
            #expect(a == .ioError)
            #expect(a.hashValue == b.hashValue)
            #expect(Set([a, b, .ioError, .noSpace]).count == 2)
            #expect(LMDBError.ioError != .noSpace)
        }

        @Test func namedCodesAreLMDBsAndErrnos() {
            #expect(LMDBError.mapFull.code == -30792) // MDB_MAP_FULL
            #expect(LMDBError.keyExists.code == -30799) // MDB_KEYEXIST
            #expect(LMDBError.notFound.code == -30798) // MDB_NOTFOUND
            #expect(LMDBError.ioError.code == EIO)
            #expect(LMDBError.noSpace.code == ENOSPC)
            #expect(LMDBError.permissionDenied.code == EACCES)
            #expect(LMDBError.busy.code == EBUSY)
            #expect(LMDBError.invalidArgument.code == EINVAL)
        }

        @Test func descriptionHasLMDBsTextTheContextAndTheCode() {
            let error = LMDBError(code: LMDBError.mapFull.code, context: "grow the map")
            #expect(error.message.contains("MDB_MAP_FULL"))
            #expect(error.description.contains(error.message))
            #expect(error.description.contains("grow the map"))
            #expect(error.description.contains("-30792"))
            // errno values get the C library's text through mdb_strerror.
            #expect(LMDBError.ioError.message == String(cString: strerror(EIO)))
            #expect(LMDBError.ioError.description.contains(String(cString: strerror(EIO))))
            #expect(LMDBError.noSpace.description == "\(String(cString: strerror(ENOSPC))) (\(ENOSPC))")
        }

        /// Errors name operations and tables, never stored bytes (keys and values may be secret).
        @Test func descriptionsHoldNoKeyOrValueBytes() throws {
            let secretKey = "SECRET-KEY-4f2a"
            let secretValue = "SECRET-VALUE-9c1e"
            try withScratchEnvironment { env, _ in
                let table = try #require(try env.table(named: "t"))
                try env.write { txn in try txn.put(bytes(secretValue), forKey: bytes(secretKey), in: table) }
                var errors: [any Error] = []
                do {
                    try env.write { txn in try txn.put(bytes(secretValue), forKey: bytes(secretKey), in: table, mode: .noOverwrite) }
                } catch { errors.append(error) }
                do {
                    let oversized = bytes(secretKey) + [UInt8](repeating: 0x41, count: 600)
                    try env.write { txn in try txn.put(bytes(secretValue), forKey: oversized, in: table) }
                } catch { errors.append(error) }
                #expect(errors.count == 2)
                let hexKey = bytes(secretKey).map { String(format: "%02x", $0) }.joined()
                for error in errors {
                    let text = "\(error) \(String(reflecting: error)) \(error.localizedDescription)"
                    #expect(!text.contains(secretKey))
                    #expect(!text.contains(secretValue))
                    #expect(!text.lowercased().contains(hexKey))
                    #expect(text.contains("put into t")) // the failed operation's own context
                    let message = try #require((error as? LMDBError)?.message)
                    #expect(message.hasPrefix("MDB_"))
                    #expect(text.contains(message))
                }
            }
        }
    }
}

