#!/usr/bin/env python3
"""Reads `stasis-bench sandbox` JSON lines on stdin; prints a markdown table of medians per guest
size and checkpoint method (live / stopped), the live-to-stopped downtime ratio, and the targets."""
import json
import statistics
import sys

rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
groups = sorted({(r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) for r in rows})


def med(group, key):
    m, c, f = group
    return statistics.median(r[key] for r in rows
                             if r["memory_mib"] == m and r.get("capture", "stopped") == c and r.get("fill_mib", 0) == f)


print("\n| guest | filled | checkpoint | accel | runs | downtime (1st / 2nd) | durable (1st / 2nd) | 2nd checkpoint stored | restore cold | restore patching ancestor | cold boot |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for g in groups:
    m, c, f = g
    n = sum(1 for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g)
    stored = med(g, "checkpoint2_stored_bytes")
    print("| %d MiB | %d MiB | %s | %s | %d | %.0f / %.0f ms | %.0f / %.0f ms | %.1f MiB = %.1f%% of RAM (dirtied %d MiB) | %.0f ms | %.0f ms | %.0f ms |" % (
        m, f, c, rows[0]["accelerator"], n, med(g, "checkpoint1_downtime_ms"), med(g, "checkpoint2_downtime_ms"),
        med(g, "checkpoint1_durable_ms"), med(g, "checkpoint2_durable_ms"), stored / 2**20, 100 * stored / (m * 2**20),
        med(g, "dirtied_mib"), med(g, "restore_cold_ms"), med(g, "restore_patched_ms"), med(g, "cold_boot_ms")))

lazy = [g for g in groups if any("restore_lazy_ms" in r for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g)]
if lazy:
    print("\nLazy against eager restore (cold host cache, to guest answering; medians):")
    print("\n| guest | filled | eager restore | of which writing files | lazy restore | of which mounting | lazy: to hydrated | hydration after start |")
    print("|---|---|---|---|---|---|---|---|")
    for g in lazy:
        def lmed(key):
            values = [r[key] for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g and r.get(key) is not None]
            return statistics.median(values) if values else float("nan")
        print("| %d MiB | %d MiB | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms |" % (
            g[0], g[2], lmed("restore_cold_ms"), lmed("restore_cold_files_ms"), lmed("restore_lazy_ms"), lmed("restore_lazy_files_ms"),
            lmed("restore_lazy_to_hydrated_ms") if any("restore_lazy_to_hydrated_ms" in r for r in rows) else lmed("lazy_restore_to_hydrated_ms"),
            lmed("restore_lazy_hydration_ms") if any("restore_lazy_hydration_ms" in r for r in rows) else lmed("lazy_hydration_ms")))
    for g in lazy:
        lm = statistics.median(r["restore_lazy_ms"] for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g and "restore_lazy_ms" in r)
        print("%d MiB: lazy restore %.0f ms %s (< 400)" % (g[0], lm, "MET" if lm < 400 else "NOT MET"))

    prefetch = [g for g in lazy if any("restore_prefetch_ms" in r for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g)]
    if prefetch:
        print("\nLazy restore without and with the recorded access order (cold host cache; medians), and the")
        print("second checkpoint of the lazily restored guest after it dirtied ~5% (dirty map):")
        print("\n| guest | order (chunks) | lazy to answering: none / prefetched | of which QEMU start to answering: none / prefetched | hydration after start: none / prefetched | eager writing files | prefetch ms | lazy 2nd checkpoint read | stored | downtime |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for g in prefetch:
            def pmed(key):
                values = [r[key] for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g and r.get(key) is not None]
                return statistics.median(values) if values else float("nan")
            ram = g[0] * 2**20
            print("| %d MiB | %d | %.0f / %.0f ms | %.0f / %.0f ms | %.0f / %.0f ms | %.0f ms | %.0f ms | %.1f MiB = %.1f%% | %.1f MiB = %.1f%% | %.0f ms |" % (
                g[0], pmed("restore_lazy_recorded_chunks"), pmed("restore_lazy_ms"), pmed("restore_prefetch_ms"),
                pmed("restore_lazy_start_ms"), pmed("restore_prefetch_start_ms"),
                pmed("restore_lazy_hydration_ms"), pmed("restore_prefetch_hydration_ms"), pmed("restore_cold_files_ms"), pmed("restore_prefetch_prefetch_ms"),
                pmed("lazy_checkpoint_read_bytes") / 2**20, 100 * pmed("lazy_checkpoint_read_bytes") / ram,
                pmed("lazy_checkpoint_stored_bytes") / 2**20, 100 * pmed("lazy_checkpoint_stored_bytes") / ram, pmed("lazy_checkpoint_downtime_ms")))
        for g in prefetch:
            def pmed(key):
                values = [r[key] for r in rows if (r["memory_mib"], r.get("capture", "stopped"), r.get("fill_mib", 0)) == g and r.get(key) is not None]
                return statistics.median(values) if values else float("nan")
            ram = g[0] * 2**20
            hyd, eager = pmed("restore_prefetch_hydration_ms"), pmed("restore_cold_files_ms")
            read, stored = pmed("lazy_checkpoint_read_bytes") / ram, pmed("lazy_checkpoint_stored_bytes") / ram
            print("%d MiB: hydration with prefetch %.2fx the eager write time %s (<= 1.5x); lazy 2nd checkpoint reads %.1f%% %s (< 10%%), stores %.1f%% %s (< 15%%)" % (
                g[0], hyd / eager, "MET" if hyd <= 1.5 * eager else "NOT MET", 100 * read, "MET" if read < 0.10 else "NOT MET",
                100 * stored, "MET" if stored < 0.15 else "NOT MET"))

pairs = [(g, (g[0], "stopped", g[2])) for g in groups if g[1] == "live" and (g[0], "stopped", g[2]) in groups]
if pairs:
    print("\nLive against stopped, same run (downtime, median of both checkpoints):")
    for live, stopped in pairs:
        l = max(med(live, "checkpoint1_downtime_ms"), med(live, "checkpoint2_downtime_ms"))
        s = max(med(stopped, "checkpoint1_downtime_ms"), med(stopped, "checkpoint2_downtime_ms"))
        print("%d MiB (%d MiB filled): live %.0f ms, stopped %.0f ms: %.2fx" % (live[0], live[2], l, s, s / l if l else float("inf")))

print("\nTargets (TCG here): downtime < 100 ms for every checkpoint; durable < 1 s per GiB of RAM; "
      "restore to answering < 600 ms (256 MiB); second checkpoint < 15% of RAM.")
for g in groups:
    m, c, f = g
    dt = max(med(g, "checkpoint1_downtime_ms"), med(g, "checkpoint2_downtime_ms"))
    dur = max(med(g, "checkpoint1_durable_ms"), med(g, "checkpoint2_durable_ms"))
    dlim = 1000 * m / 1024
    share = med(g, "checkpoint2_stored_bytes") / (m * 2**20)
    parts = ["downtime %.0f ms %s (< 100)" % (dt, "MET" if dt < 100 else "NOT MET"),
             "durable %.0f ms %s (< %.0f)" % (dur, "MET" if dur < dlim else "NOT MET", dlim),
             "2nd checkpoint %.1f%% %s (< 15%%)" % (100 * share, "MET" if share < 0.15 else "NOT MET")]
    if m <= 256:
        rc = med(g, "restore_cold_ms")
        parts.append("restore cold %.0f ms %s (< 600)" % (rc, "MET" if rc < 600 else "NOT MET"))
    print("%d MiB, %d MiB filled, %s: %s" % (m, f, c, "; ".join(parts)))
