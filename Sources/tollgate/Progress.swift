import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on standard error — only when it is a terminal, so pipes, files and
/// tests see nothing.
struct Progress {
    private let label: String
    private let total: Int?
    private let enabled = isatty(2) == 1
    private var done = 0
    var count: Int { done }
    private var lastDrawn = 0.0

    init(_ label: String, total: Int? = nil) {
        self.label = label
        self.total = total
    }

    mutating func advance(by count: Int = 1) {
        done += count
        guard enabled else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastDrawn >= 0.1 else { return }
        lastDrawn = now
        draw()
    }

    private func draw() {
        var line = "\r\(label) "
        if let total, total > 0 {
            let width = 30
            let filled = min(width, done * width / total)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)"
        } else {
            line += "\(done)"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Clears the line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 72) + "\r").utf8))
    }
}
