/// The timeline page around its data: markup, style, and a Content-Security-Policy that allows
/// exactly the page's own script (by hash) and nothing from the network — so that even a bug
/// that let event text become markup could not run it or send it anywhere.
enum TimelinePage {
    /// Everything before the embedded export's JSON.
    static func head(title: String, scriptHash: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-\(scriptHash)'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="stasis history export --format html">
        <title>\(title)</title>
        <style>\(style)</style></head>
        <body data-verify="loading">
        <header>
          <div id="session"></div>
          <div id="banner" class="running">Loading the export… (if this stays, the page could not read it)</div>
          <div id="keybar"><label for="key">Store public key</label> <input id="key" size="66" spellcheck="false" placeholder="64 hex digits: stasis key show">
            <button id="pin">Pin and verify</button> <span id="keystate">unpinned</span></div>
          <canvas id="axis" title="Events over time (log scale); blue: checkpoints, orange: restores, purple: forks. Click to jump."></canvas>
          <div id="controls"><input id="search" type="search" placeholder="Search commands, output, tool calls, messages…" size="48"> <span id="count"></span>
            <div id="kinds"></div></div>
        </header>
        <main><div id="list"><div id="spacer"></div><div id="rows"></div></div><aside><div id="detail"><p class="hint">Select an event for its hashes and inclusion proof.</p></div><section id="problems"></section><section id="tree"></section><section id="compare"></section></aside></main>
        <script type="application/json" id="stasis-export">
        """
    }

    /// Between the parts of the export (Formats/timeline.md): the events, one body a line; the
    /// stored hashes; the blob values.
    static let eventsStart = "</script>\n<script type=\"text/plain\" data-stasis=\"events\">"
    static let hashesStart = "</script>\n<script type=\"text/plain\" id=\"stasis-hashes\">"
    static let blobsStart = "</script>\n<script type=\"application/json\" id=\"stasis-blobs\">"
    /// The precomputed diffs of consecutive checkpoints (an offline page cannot ask for them).
    static let diffsStart = "</script>\n<script type=\"application/json\" id=\"stasis-diffs\">"
    static let end = "</script>\n</body></html>\n"

    /// The page's script, written after the first `firstScreen` events: the browser runs it as
    /// soon as it has parsed them and draws the first screen while the rest of a large file is
    /// still being read; the events after it continue in a second element.
    static func script(_ script: String) -> String {
        "</script>\n<script>\(script)</script>\n<script type=\"text/plain\" data-stasis=\"events\">"
    }
    static let firstScreen = 2000

    static let style = """
    :root { font: 13px/1.35 system-ui, sans-serif; color: #1d1d1f; }
    body { margin: 0; height: 100vh; display: flex; flex-direction: column; }
    header { padding: 8px 12px 4px; border-bottom: 1px solid #ccc; background: #fafaf8; }
    h1 { font-size: 16px; margin: 0 0 2px; font-family: ui-monospace, monospace; }
    h2 { font-size: 14px; margin: 10px 0 4px; } h3 { font-size: 12px; margin: 8px 0 2px; }
    .facts span, .labels span { margin-right: 14px; } .label { font-family: ui-monospace, monospace; background: #eef; padding: 0 4px; border-radius: 3px; }
    #banner { margin: 6px 0; padding: 6px 10px; border-radius: 4px; font-weight: 600; overflow-wrap: anywhere; }
    #banner.running, #banner.loading { background: #eee; } #banner.verified { background: #d7f5dd; color: #0b5a1d; }
    #banner.unpinned { background: #fff3cd; color: #6b4e00; } #banner.tampered { background: #fbd5d5; color: #8a0f0f; }
    #keybar input, #controls input { font-family: ui-monospace, monospace; }
    #axis { width: 100%; height: 56px; display: block; margin: 4px 0; cursor: crosshair; }
    #kinds { display: inline; margin-left: 10px; } .kindfilter { margin-right: 8px; white-space: nowrap; }
    main { flex: 1; min-height: 0; display: flex; }
    #list { flex: 1; overflow-y: auto; position: relative; font-family: ui-monospace, monospace; font-size: 12px; }
    #rows { position: absolute; top: 0; left: 0; right: 0; }
    .row { position: absolute; left: 0; right: 0; height: 24px; line-height: 24px; white-space: nowrap; overflow: hidden; border-bottom: 1px solid #f0f0f0; cursor: pointer; }
    .row:has(pre) { height: 288px; } .row.selected { background: #e8f0fe; } .row.gap { border-top: 2px dashed #b0b0b0; }
    .row > span { display: inline-block; vertical-align: top; } .seq { width: 64px; text-align: right; color: #777; margin-right: 8px; }
    .time { width: 96px; color: #555; } .gapnote { width: 86px; color: #a05a00; } .kind { width: 120px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; }
    .text { overflow: hidden; text-overflow: ellipsis; max-width: calc(100% - 450px); }
    .toggle { border: 0; background: none; cursor: pointer; width: 20px; padding: 0; }
    pre.full { position: absolute; top: 24px; left: 40px; right: 8px; height: 250px; margin: 0; overflow: auto; background: #111; color: #eee; padding: 6px; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.3; }
    .mark { width: 18px; text-align: center; font-weight: 700; } .mark.verified, .ok { color: #0b7a2a; } .mark.unpinned { color: #a07a00; }
    .mark.bad, .bad { color: #c00; } .mark.unchecked, .mark.pending { color: #999; }
    .k-command-started { color: #0645ad; } .k-output { color: #555; } .k-command-exited { color: #333; } .k-tool-call, .k-tool-result { color: #7a3db8; }
    .k-message { color: #0b6e6e; } .k-checkpoint { color: #1f6fd1; } .k-restore { color: #d9730d; } .k-note { color: #6b6b00; }
    .k-x-langgraph-checkpoint { color: #1f6fd1; } .k-x-langgraph-message { color: #0b6e6e; } .k-x-langgraph-tool-result { color: #7a3db8; }
    .k-x-langgraph-interrupt, .k-x-langgraph-error { color: #b3261e; }
    aside { width: 38%; max-width: 620px; overflow-y: auto; border-left: 1px solid #ccc; padding: 0 12px 12px; background: #fcfcfb; }
    .kv { font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; } .kv .k { color: #777; display: inline-block; width: 80px; }
    pre.body { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f3f3; padding: 6px; max-height: 240px; overflow: auto; }
    ol.path { font-family: ui-monospace, monospace; font-size: 11px; } ul.tree { padding-left: 16px; } ul.tree ul { padding-left: 18px; }
    .bar { display: flex; align-items: center; gap: 6px; font-size: 12px; margin: 2px 0; } .bar .name { width: 90px; font-family: ui-monospace, monospace; }
    .bar .track { flex: 1; height: 10px; background: #e6e6e6; border-radius: 2px; overflow: hidden; } .bar .fill { display: block; height: 100%; background: #d9730d; min-width: 1px; }
    .bar .what { width: 230px; color: #555; } ul.filelist { font-family: ui-monospace, monospace; font-size: 12px; padding-left: 16px; margin: 2px 0; }
    li.added a { color: #0b7a2a; } li.removed a { color: #c00; } li.modified a { color: #a05a00; }
    pre.linediff, pre.filetext { font-size: 12px; background: #f6f6f6; padding: 6px; max-height: 360px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
    .l-added { background: #e3f7e6; } .l-removed { background: #fbe3e3; }
    .related { color: #6a3ab0; } .hint { color: #888; } #problems li, #tree li, #detail { overflow-wrap: anywhere; }
    """
}
