import ArgumentParser
import Foundation
import StasisJSON
import StasisSessions

struct HistorySearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find events by the words in their commands, output, tool calls and messages.",
        discussion: """
            QUERY: words that must all occur (any case), "quoted phrases" whose words occur in \
            that order, and prefix* for words that start so. Words are runs of letters and \
            digits: `/etc/passwd` finds `cat /etc/passwd`. Searches every session unless --session \
            is given. Hits come in the order events were written, --limit per page; with more, \
            the last line (or `next` in --json) gives the --after value for the next page. \
            The first 128 Ki characters of each event are indexed.
            """)
    @OptionGroup var options: StoreOptions
    @Argument(help: ArgumentHelp("What to look for.", valueName: "QUERY")) var query: String
    @Option(name: .long, help: ArgumentHelp("Only this session (id or unique prefix).", valueName: "SESSION")) var session: String?
    @Option(name: .long, help: ArgumentHelp("Only events of this kind (repeatable).", valueName: "KIND")) var kind: [String] = []
    @Option(name: .long, help: "Hits per page (1 to 1000).") var limit: Int = 100
    @Option(name: .long, help: ArgumentHelp("Go on after this point (the `next` of the page before).", valueName: "N")) var after: Int64?

    func validate() throws {
        guard SearchQuery(query) != nil else {
            throw ValidationError("QUERY '\(query)' holds no word to search for (letters or digits)")
        }
        for k in kind where EventKind(rawValue: k) == nil {
            throw ValidationError("--kind '\(k)' is not one of \(EventKind.accepted)")
        }
        guard (1...SessionStore.searchPageLimit).contains(limit) else {
            throw ValidationError("--limit \(limit) is out of range: give 1 to \(SessionStore.searchPageLimit)")
        }
    }

    func run() throws {
        try CommandOutput.run(json: options.json) { () throws(HistoryError) in
            let search = EventSearch(query: SearchQuery(query)!, session: session,
                                     kinds: kind.isEmpty ? nil : Set(kind.compactMap(EventKind.init(rawValue:))), limit: limit, after: after)
            let page = try options.openSessions().search(search)
            if options.json { CommandOutput.line(page.jsonValue.canonicalString); return }
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for hit in page.hits {
                CommandOutput.line("\(hit.session.prefix(12)) \(String(hit.event.seq).padding(toLength: 6, withPad: " ", startingAt: 0)) \(f.string(from: hit.event.date))  \(hit.event.kind.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(hit.snippet)")
            }
            if page.hits.isEmpty { CommandOutput.line("no event matches") }
            if let next = page.next { CommandOutput.line("more: --after \(next)") }
        }
    }
}
