#!/usr/bin/env python3
"""Reads `stasis-bench sandbox` JSON lines on stdin; prints a markdown table of medians and the targets."""
import json
import statistics
import sys

rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
sizes = sorted({r["memory_mib"] for r in rows})


def med(mib, key):
    return statistics.median(r[key] for r in rows if r["memory_mib"] == mib)


print("\n| guest | accel | runs | downtime (1st / 2nd) | durable (1st / 2nd) | 2nd checkpoint stored | restore cold | restore patching ancestor | cold boot |")
print("|---|---|---|---|---|---|---|---|---|")
for m in sizes:
    n = sum(1 for r in rows if r["memory_mib"] == m)
    stored = med(m, "checkpoint2_stored_bytes")
    print("| %d MiB | %s | %d | %.0f / %.0f ms | %.0f / %.0f ms | %.1f MiB = %.1f%% of RAM (dirtied %d MiB) | %.0f ms | %.0f ms | %.0f ms |" % (
        m, rows[0]["accelerator"], n, med(m, "checkpoint1_downtime_ms"), med(m, "checkpoint2_downtime_ms"),
        med(m, "checkpoint1_durable_ms"), med(m, "checkpoint2_durable_ms"), stored / 2**20, 100 * stored / (m * 2**20),
        med(m, "dirtied_mib"), med(m, "restore_cold_ms"), med(m, "restore_patched_ms"), med(m, "cold_boot_ms")))

print("\nTargets (TCG here): downtime < 150 ms (256 MiB) / < 400 ms (1 GiB); durable < 1 s per GiB of RAM; "
      "restore to answering < 600 ms (256 MiB); second checkpoint < 15% of RAM.")
for m in sizes:
    dt = max(med(m, "checkpoint1_downtime_ms"), med(m, "checkpoint2_downtime_ms"))
    lim = 150 if m <= 256 else 400
    dur = max(med(m, "checkpoint1_durable_ms"), med(m, "checkpoint2_durable_ms"))
    dlim = 1000 * m / 1024
    share = med(m, "checkpoint2_stored_bytes") / (m * 2**20)
    parts = ["downtime %.0f ms %s (< %d)" % (dt, "MET" if dt < lim else "NOT MET", lim),
             "durable %.0f ms %s (< %.0f)" % (dur, "MET" if dur < dlim else "NOT MET", dlim),
             "2nd checkpoint %.1f%% %s (< 15%%)" % (100 * share, "MET" if share < 0.15 else "NOT MET")]
    if m <= 256:
        rc = med(m, "restore_cold_ms")
        parts.append("restore cold %.0f ms %s (< 600)" % (rc, "MET" if rc < 600 else "NOT MET"))
    print("%d MiB: %s" % (m, "; ".join(parts)))
