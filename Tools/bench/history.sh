#!/usr/bin/env bash
# History benchmark: appends 1,000,000 small events with one writer (batches of 1000) and
# 100,000 from 8 concurrent writers, then times `last 100`, a full verify and inclusion proofs.
# Targets: >= 100,000 events/s appended, < 10 ms for the last 100, >= 1,000,000 events/s verified.
#   Tools/bench/history.sh [--events N] [--concurrent-events N] [--writers W]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
Tools/setup.sh
swift build -c release --product stasis-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
"$BIN/stasis-bench" history "$@" | tee /dev/stderr | python3 -c '
import json, sys
rows = {}
for line in sys.stdin:
    d = json.loads(line); rows[d["measure"]] = d
def row(name, value, goal, ok):
    print(f"| {name} | {value} | {goal} | {\"MET\" if ok else \"NOT MET\"} |")
print("\n| measure | result | target | |\n|---|---|---|---|")
a = rows["append-one-writer"]; row(f"append, 1 writer, {a[\"events\"]:,} events, batches of {a[\"batch\"]}", f"{a[\"events_per_s\"]:,.0f} events/s", ">= 100,000/s", a["events_per_s"] >= 100000)
c = rows["append-concurrent"]; row(f"append, {c[\"writers\"]} writers, {c[\"events\"]:,} events", f"{c[\"events_per_s\"]:,.0f} events/s", ">= 100,000/s", c["events_per_s"] >= 100000)
s = rows["show-last-100"]; row(f"show last 100 of {s[\"events\"]:,}", f"{s[\"median_ms\"]:.2f} ms (median)", "< 10 ms", s["median_ms"] < 10)
v = rows["verify"]; row(f"verify {v[\"events\"]:,} events", f"{v[\"events_per_s\"]:,.0f} events/s ({v[\"seconds\"]:.2f} s)", ">= 1,000,000/s", v["events_per_s"] >= 1000000)
p = rows["prove"]; row(f"inclusion proof in {p[\"events\"]:,}", f"{p[\"median_ms\"]:.2f} ms, {p[\"path_hashes\"]} hashes ({p[\"proof_bytes\"]} bytes)", "O(log n)", True)
'
