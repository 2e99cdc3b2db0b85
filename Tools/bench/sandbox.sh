#!/usr/bin/env bash
# MicroVM checkpoint/restore benchmark (real QEMU microvm; TCG here, KVM where usable):
# per guest size, downtime (stop → cont), time until the checkpoint is durable, bytes stored by a
# second checkpoint after the guest dirties ~5% of its memory, restore until the guest answers
# (cold, and patching a local ancestor), and cold boot for comparison. Medians over --runs.
#   Tools/bench/sandbox.sh [--memory 256,1024] [--runs 3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
Tools/setup.sh
Tools/guest/build.sh --quiet
swift build -c release --product stasis-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
"$BIN/stasis-bench" sandbox "$@" | tee /dev/stderr | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
sizes = sorted({r["memory_mib"] for r in rows})
def med(mib, key): return statistics.median(r[key] for r in rows if r["memory_mib"] == mib)
print("\n| guest | accel | downtime | durable | 2nd checkpoint stored | restore cold | restore patching | cold boot |")
print("|---|---|---|---|---|---|---|---|")
for m in sizes:
    acc = rows[0]["accelerator"]
    stored = med(m, "checkpoint2_stored_bytes")
    print(f"| {m} MiB | {acc} | {med(m,\"checkpoint2_downtime_ms\"):.0f} ms (1st {med(m,\"checkpoint1_downtime_ms\"):.0f}) | {med(m,\"checkpoint2_durable_ms\"):.0f} ms (1st {med(m,\"checkpoint1_durable_ms\"):.0f}) | {stored/2**20:.1f} MiB = {100*stored/(m*2**20):.1f}% of RAM | {med(m,\"restore_cold_ms\"):.0f} ms | {med(m,\"restore_patched_ms\"):.0f} ms | {med(m,\"cold_boot_ms\"):.0f} ms |")
print("\nTargets (TCG): downtime < 150 ms (256 MiB) / < 400 ms (1 GiB); durable < 1 s per GiB; restore to answering < 600 ms (256 MiB); 2nd checkpoint < 15% of RAM.")
for m in sizes:
    dt = max(med(m,"checkpoint1_downtime_ms"), med(m,"checkpoint2_downtime_ms"))
    lim = 150 if m <= 256 else 400
    dur = max(med(m,"checkpoint1_durable_ms"), med(m,"checkpoint2_durable_ms"))
    print(f"{m} MiB: downtime {dt:.0f} ms {\"MET\" if dt < lim else \"NOT MET\"} (< {lim}); durable {dur:.0f} ms {\"MET\" if dur < 1000*m/1024 else \"NOT MET\"} (< {1000*m/1024:.0f}); 2nd checkpoint {100*med(m,\"checkpoint2_stored_bytes\")/(m*2**20):.1f}% {\"MET\" if med(m,\"checkpoint2_stored_bytes\") < 0.15*m*2**20 else \"NOT MET\"}" + (f"; restore cold {med(m,\"restore_cold_ms\"):.0f} ms {\"MET\" if med(m,\"restore_cold_ms\") < 600 else \"NOT MET\"} (< 600)" if m <= 256 else ""))
'
