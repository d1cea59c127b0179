import ArgumentParser
import Foundation

/// The exit statuses of every command, in one place: `tollgate --help` prints this table and
/// Docs/cli.md repeats it. ArgumentParser's own rule (64 for any `ValidationError`, wherever it
/// is thrown) would make a refused value found while running — a bad `--subject`, an empty
/// standard input, a wrong policy file — look like a mistyped command line; here 64 means only
/// that the command line did not parse.
enum ExitStatus {
    static let table = """
    Exit status (every command):
      0   success (authorize, peek: allowed; check: clean)
      1   failure or refusal: a bad value, no such key or tier, a store that
          cannot be opened; check: findings; key import: a line failed
      2   authorize, peek: denied by a limit or out of credits
      3   authorize, peek: key rejected (unknown, revoked, expired, disabled,
          malformed, or without the scope)
      64  usage: unknown command or option, missing argument, a value of the
          wrong type (such as --cost abc)
    """
}

extension TollgateCommand {
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)  // --help (0) and command-line errors (64)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            // Thrown while running, a ValidationError is a refused value, not a usage error.
            printError("Error: \(error.message)")
            Foundation.exit(1)
        } catch {
            // ExitCode, help requests, and every other error (status 1) as ArgumentParser has them.
            exit(withError: error)
        }
    }
}
