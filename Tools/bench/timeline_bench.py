"""Measures the timeline page in headless Chromium: the first screen (navigation start to the
first contentful paint of the first rows), all events read, a kind-filter step, a scroll step
(each including layout), a search over every event, and the page's own full verification (from
all events read to every signature checked). Prints one JSON line per run and the medians.

    timeline_bench.py PAGE.html --key KEY [--runs 3]
    timeline_bench.py http://127.0.0.1:PORT/sessions/ID?token=T --key KEY [--runs 3]   (served)

Served, it also times the server's full-text search (`/api/search`, through the catalog's
index, fetched by the page) as server_search_ms.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "timeline"))
from browser import chromium, open_page, wait_verified  # noqa: E402

STEP = """
const what = arguments[0], app = window.stasisTimeline, list = document.getElementById('list');
const t = performance.now();
if (what === 'filter-off') app.View.setKind('output', false);
if (what === 'filter-on') app.View.setKind('output', true);
if (what === 'scroll') { list.scrollTop += 240000; app.View.render(); }
if (what === 'search') app.View.search(arguments[1]);
if (what === 'search-clear') app.View.search('');
document.body.getBoundingClientRect();      // include layout
return performance.now() - t;
"""


SERVER_SEARCH = """
const done = arguments[arguments.length - 1], t = performance.now();
fetch('/api/search?q=' + encodeURIComponent(arguments[0]) + '&session=' + window.stasisTimeline.Data.session.id)
  .then(r => r.json()).then(b => done({ms: performance.now() - t, hits: (b.hits || []).length}));
"""


def run_once(page, key, query):
    driver = chromium()
    served = page.startswith("http")
    try:
        if served:
            driver.get(page + f"#key={key}")
        else:
            open_page(driver, page, key)
        outcome = wait_verified(driver)
        marks = driver.execute_script("""
            const m = n => (performance.getEntriesByName(n)[0] || {}).startTime;
            const paint = (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0;
            return {first: Math.max(m('stasis-first-screen'), paint), loaded: m('stasis-loaded'), verified: m('stasis-verified'),
                    events: window.stasisTimeline.Data.count};
        """)
        steps = {"filter": [], "scroll": [], "search": []}
        for _ in range(5):
            steps["filter"].append(driver.execute_script(STEP, "filter-off"))
            steps["filter"].append(driver.execute_script(STEP, "filter-on"))
            steps["scroll"].append(driver.execute_script(STEP, "scroll"))
        for _ in range(3):
            steps["search"].append(driver.execute_script(STEP, "search", query))
            driver.execute_script(STEP, "search-clear")
        extra = {}
        if served:
            searches = [driver.execute_async_script(SERVER_SEARCH, query) for _ in range(3)]
            extra = {"server_search_ms": statistics.median(x["ms"] for x in searches), "server_search_hits": searches[0]["hits"]}
        return {**extra,
            "outcome": outcome, "events": marks["events"], "first_screen_ms": marks["first"],
            "all_events_read_ms": marks["loaded"], "verify_ms": marks["verified"] - marks["loaded"],
            "filter_step_ms": statistics.median(steps["filter"]), "scroll_step_ms": statistics.median(steps["scroll"]),
            "search_ms": statistics.median(steps["search"]),
        }
    finally:
        driver.quit()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--key", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--query", default="needle")
    args = ap.parse_args()
    rows = []
    for _ in range(args.runs):
        row = run_once(args.page, args.key, args.query)
        print(json.dumps(row), flush=True)
        rows.append(row)
    keys = ["first_screen_ms", "all_events_read_ms", "filter_step_ms", "scroll_step_ms", "search_ms", "verify_ms"]
    if "server_search_ms" in rows[0]:
        keys.append("server_search_ms")
    targets = {"first_screen_ms": 1000, "filter_step_ms": 100, "scroll_step_ms": 100, "search_ms": 200, "verify_ms": 10000,
               "server_search_ms": 200}
    where = "served" if args.page.startswith("http") else "offline file"
    print(f"timeline page ({where}), {rows[0]['events']:,} events, medians of {len(rows)} runs (outcome: {rows[0]['outcome']}):")
    for k in keys:
        m = statistics.median(r[k] for r in rows)
        goal = f"target < {targets[k]}  {'met' if m < targets[k] else 'NOT met'}" if k in targets else "(no target)"
        print(f"  {k:18} {m:10.1f}   {goal}")


if __name__ == "__main__":
    main()
