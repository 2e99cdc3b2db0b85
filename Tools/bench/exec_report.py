#!/usr/bin/env python3
"""Markdown table from `stasis-bench exec` JSON lines (stdin), with the issue's targets."""
import json
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
print("| measure | result | target |")
print("|---|---|---|")
for r in rows:
    if r["measure"] == "exec_true_ms":
        print(f"| exec `true` round trip ({r['path']}, {r['runs']} runs, {r['accelerator']}) "
              f"| p50 {r['p50']} ms, p90 {r['p90']} ms | p50 < 15 ms |")
streams = {}
for r in rows:
    if r["measure"] == "exec_stream":
        streams.setdefault((r["data"], r.get("path", "service"), r["bytes"] >> 20), []).append(r["mib_per_s"])
for (kind, path, mib), speeds in streams.items():
    speeds.sort()
    print(f"| {mib} MiB of {kind} streamed ({path}) | median {speeds[len(speeds) // 2]} MiB/s (runs {speeds}) | >= 50 MiB/s |")
