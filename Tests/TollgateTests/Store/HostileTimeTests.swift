import Foundation
import Testing
@testable import Tollgate
import TollgateTestSupport

/// Times and durations anywhere in their types' ranges: no trap, no wrap-around, and a typed
/// error where saturating would do the wrong thing (issue 12, item 15).
@Suite struct HostileTimeTests {
    @Test func timestampArithmeticSaturatesAtBothEnds() {
        let late = Timestamp(microseconds: .max - 5)
        let early = Timestamp(microseconds: .min + 5)
        #expect(late.adding(microseconds: 10).microseconds == .max)
        #expect(early.adding(microseconds: -10).microseconds == .min)
        #expect(late.adding(microseconds: -10).microseconds == .max - 15)
        #expect(Timestamp(microseconds: 0).adding(.seconds(Int64.max)).microseconds == .max)
        #expect(Timestamp(microseconds: 0).adding(.seconds(Int64.min)).microseconds == .min)
        #expect(Timestamp(microseconds: 7).adding(.microseconds(3)).microseconds == 10)
        #expect(late.microseconds(since: early) == .max)
        #expect(early.microseconds(since: late) == .min)
        #expect(Timestamp(microseconds: 10).microseconds(since: Timestamp(microseconds: 3)) == 7)
        #expect(Timestamp(seconds: .max).microseconds == .max)
        #expect(Timestamp(seconds: .min).microseconds == .min)
        #expect(Store.microseconds(.seconds(Int64.max)) == .max)
        #expect(Store.microseconds(.seconds(Int64.min)) == .min)
        #expect(Store.microseconds(.seconds(9_223_372_036_854) + .microseconds(999_999)) == .max)
    }

    @Test func authorizingAtTheEndsOfTimeDoesNotTrap() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let used = try fixture.key()
        #expect(try fixture.store.authorize(key: used.secret).isAllowed)
        // `now - lastUsedAt` with now = Int64.min and a real last use overflows.
        _ = try fixture.store.authorize(key: used.secret, at: Timestamp(microseconds: .min))
        _ = try fixture.store.authorize(key: used.secret, at: Timestamp(microseconds: .max))

        // A key first used at Int64.min must keep working at ordinary times.
        let first = try fixture.key()
        _ = try fixture.store.authorize(key: first.secret, at: Timestamp(microseconds: .min))
        #expect(try fixture.store.authorize(key: first.secret).isAllowed)
        #expect(try fixture.store.authorize(key: first.secret).isAllowed)
    }

    @Test func rotationGraceBeyondTheTimelineSaturates() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        for grace in [Duration.microseconds(Int64.max), .seconds(Int64.max)] {
            let old = try fixture.key()
            let new = try fixture.store.rotateKey(id: old.info.id, grace: grace)
            #expect(new.info.previousKeyGraceUntil?.microseconds == .max)
            #expect(try fixture.store.authorize(key: old.secret).isAllowed, "the old secret is in its (endless) grace")
            #expect(try fixture.store.authorize(key: new.secret).isAllowed)
        }
        let key = try fixture.key()
        expectCode(.invalidArgument) { try fixture.store.rotateKey(id: key.info.id, grace: .seconds(-1)) }
        #expect(try fixture.store.authorize(key: key.secret).isAllowed, "a refused rotation changes nothing")
    }

    @Test func aKeyExpiredAtBirthIsRefused() throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let now = fixture.clock.now()
        for expiry in [now, now.adding(microseconds: -1), Timestamp(microseconds: .min)] {
            expectCode(.invalidArgument) { try fixture.store.createKey(NewKey(owner: "acme", tier: "free", expiresAt: expiry)) }
        }
        #expect(try fixture.store.keys(owner: "acme").isEmpty)
        let forever = try fixture.key(NewKey(owner: "acme", tier: "free", expiresAt: now.adding(.seconds(Int64.max))))
        #expect(forever.info.expiresAt?.microseconds == .max)
        #expect(try fixture.store.authorize(key: forever.secret).isAllowed)
    }

    @Test func cliDurationsAtTheEndOfTheTimeline() throws {
        let directory = TemporaryStore.makeDirectory(prefix: "tollgate-hostile-time")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cli = CLI(store: directory + "/store")
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("tier", "set", "free", "--limit", "100/hour").status == 0)
        // 106751991 days is just under Int64.max microseconds: added to now it used to wrap.
        let created = try cli.run("key", "create", "--tier", "free", "--owner", "acme", "--expires", "106751991d")
        #expect(created.status == 0, "\(created.stderr)")
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("authorize", secret).status == 0, "not expired at birth")
        let past = try cli.run("key", "create", "--tier", "free", "--owner", "acme", "--expires", "2001-01-01")
        #expect(past.status != 0)
        #expect(past.stderr.contains("not in the future"))

        let keys = try cli.json("key", "list") as? [[String: Any]]
        let id = try #require(keys?.first?["id"] as? String)
        let rotated = try cli.run("key", "rotate", id, "--grace", "106751991d")
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(try cli.run("authorize", secret).status == 0, "the old secret is in its grace")
    }
}

/// Expects `body` to throw a ``TollgateError`` with `code`.
func expectCode<R>(_ code: TollgateError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R) {
    let error = #expect(throws: TollgateError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}
