import Dispatch
import Foundation
import Synchronization

/// SIGTERM and SIGINT, delivered once to a handler on a dispatch queue.
final class StopSignals: @unchecked Sendable {  // sources are set once, in init
    private let sources: [any DispatchSourceSignal]

    init() {
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            sources.append(DispatchSource.makeSignalSource(signal: sig, queue: .global()))
        }
        self.sources = sources
    }

    func onStop(_ handler: @escaping @Sendable () -> Void) {
        let once = OnceFlag()
        for s in sources {
            s.setEventHandler { if once.claim() { handler() } }
            s.resume()
        }
    }
}

final class OnceFlag: Sendable {
    private let taken = Mutex(false)
    func claim() -> Bool { taken.withLock { t in defer { t = true }; return !t } }
}
