#!/usr/bin/env python3
"""Summarise image-store.sh results (JSON lines) as markdown: for each data kind (synthetic,
real), medians per tool and step, each tool's store against the ideal store, then the team's
Stasis targets, each MET / NOT MET (or n/a when the data is missing).

usage: Tools/bench/report.py RESULTS.jsonl
"""
import json
import statistics
import sys
from collections import defaultdict

MiB = 1048576.0
IDEAL_1G_MIB = 272.0  # gen_image.py 1 GiB base + next: perfect 4 KiB dedup + lz4 -1 (notes)

DATA_ORDER = ["synthetic", "real"]
DATA_TITLE = {
    "synthetic": "Synthetic images (`stasis-bench gen-image`)",
    "real": "Real-data images (`gen_real_image.py`: this machine's files)",
}

TOOL_ORDER = ["restic", "borg", "borg-fixed", "casync", "lz4", "cp", "stasis", "stasis-nodirty", "stasis-plain", "stasis-lz4"]
TOOL_LABEL = {
    "restic": "restic",
    "borg": "borg, lz4, default chunker",
    "borg-fixed": "borg, lz4, `fixed,65536`",
    "casync": "casync",
    "lz4": "`lz4 -1`",
    "cp": "`cp --sparse=always`",
    "stasis": "Stasis (`--dirty`)",
    "stasis-nodirty": "Stasis (no `--dirty`)",
    "stasis-plain": "Stasis unencrypted (`init --no-encryption`, `--dirty`)",
    "stasis-lz4": "Stasis LZ4 (`init --compression lz4`, `--dirty`)",
}


def load(path):
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                print(f"warning: {path}:{n}: bad JSON ({e})", file=sys.stderr)
    return recs


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def secs(x):
    """Seconds with 3 decimals below one second, else 2."""
    return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"


def by_data_kind(recs):
    """Records grouped by their "data" field; lines from before it existed are synthetic."""
    groups = defaultdict(list)
    for r in recs:
        groups[r.get("data") or "synthetic"].append(r)
    kinds = [k for k in DATA_ORDER if k in groups] + sorted(set(groups) - set(DATA_ORDER))
    return [(k, groups[k]) for k in kinds]


class Results:
    def __init__(self, recs, kind="synthetic", fsync_recs=None):
        self.kind = kind
        self.meta = next((r for r in recs if r.get("kind") == "meta"), {})
        self.data = next((r for r in recs if r.get("kind") == "data"), None)
        self.ideal = next((r for r in recs if r.get("kind") == "ideal"), None)
        self.gen = {r["step"]: r for r in recs if r.get("kind") == "gen"}
        self.steps = defaultdict(list)  # (tool, step) -> ok step records
        self.failed = defaultdict(int)
        self.fsync = defaultdict(set)
        for r in recs:
            if r.get("kind") != "step":
                continue
            key = (r["tool"], r["step"])
            if r.get("ok"):
                self.steps[key].append(r)
            else:
                self.failed[key] += 1
            self.fsync[r["tool"]].add(r.get("fsync", "?"))
        self.stored = defaultdict(list)
        for r in recs:
            if r.get("kind") == "stored":
                self.stored[r["tool"]].append(r)
        self.verify = defaultdict(list)
        for r in recs:
            if r.get("kind") == "verify":
                self.verify[r["tool"]].append(r["bit_exact"])
        # Who fsyncs is a property of the tool, measured once on one data kind: shared by all.
        self.fsync_check = defaultdict(dict)
        for r in (recs if fsync_recs is None else fsync_recs):
            if r.get("kind") == "fsync_check":
                self.fsync_check[r["tool"]][r["step"]] = r
        self.memory = [r for r in recs if r.get("kind") == "memory"]

    def tools(self):
        seen = {t for t, _ in self.steps} | set(self.stored) | {t for t, _ in self.failed}
        return [t for t in TOOL_ORDER if t in seen] + sorted(seen - set(TOOL_ORDER))

    def wall(self, tool, step):
        return med([r["wall"] for r in self.steps.get((tool, step), [])])

    def cpu(self, tool, step):
        return med([r["cpu"] for r in self.steps.get((tool, step), [])])

    def rss_mib(self, tool):
        xs = [r["maxrss_kib"] for (t, s), rs in self.steps.items() if t == tool and s != "memory" for r in rs]
        return max(xs) / 1024 if xs else None

    def stored_mib(self, tool, field="apparent_bytes"):
        return med([r[field] / MiB for r in self.stored.get(tool, [])])

    def ideal_mib(self):
        """The ideal store for both images: every distinct non-zero page once, `lz4 -1` as one stream
        (image-store.sh's "ideal" line); older results: the sum of analyze's per-image streams."""
        if self.ideal and self.ideal.get("lz4_bytes"):
            return self.ideal["lz4_bytes"] / MiB
        if not self.data:
            return None
        try:
            return (self.data["base"]["analysis"]["lz4DistinctStreamBytes"]
                    + self.data["next"]["analysis"]["lz4DistinctStreamBytes"]) / MiB
        except (KeyError, TypeError):
            return None


def durability(res, tool):
    modes = res.fsync.get(tool, set())
    text = {"self": "fsyncs itself", "added": "script adds `sync`"}.get(
        next(iter(modes)) if len(modes) == 1 else "", "/".join(sorted(modes)) or "–")
    if tool in ("restic", "borg", "borg-fixed"):
        text = "store: fsyncs itself; restore: script adds `sync`"
    chk = res.fsync_check.get(tool)
    if chk:
        parts = []
        for step in ("capture", "restore"):
            c = chk.get(step)
            if c:
                parts.append(f"{step} {'fsyncs' if c['syncs_output'] else 'no fsync'} ({c['calls']} calls)")
        text += " [strace: " + ", ".join(parts) + "]"
    return text


def table(res):
    out = []
    ideal = res.ideal_mib()
    out.append("| tool | full (wall / CPU s) | incremental | restore | stored MiB (du -sb) | stored / ideal "
               "| on disk MiB | max RSS MiB | restores bit-exact | durability |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for t in res.tools():
        cells = [TOOL_LABEL.get(t, t)]
        for step in ("full", "incr", "restore"):
            w, c = res.wall(t, step), res.cpu(t, step)
            cell = "–" if w is None else (f"{w:.3f} / {c:.2f}" if w < 1 else f"{w:.2f} / {c:.2f}")
            if res.failed.get((t, step)):
                cell += f" ({res.failed[(t, step)]} failed)"
            cells.append(cell)
        st = res.stored_mib(t)
        cells.append(fmt(st, 1))
        cells.append(f"{st / ideal:.2f}x" if st and ideal else "–")
        cells.append(fmt(res.stored_mib(t, "allocated_bytes"), 1))
        cells.append(fmt(res.rss_mib(t), 0))
        v = res.verify.get(t, [])
        cells.append(f"{sum(v)}/{len(v)}" if v else "–")
        cells.append(durability(res, t))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(res, show_memory=True):
    rows = []

    def add(name, goal, measured, ok):
        status = "n/a" if ok is None else ("MET" if ok else "NOT MET")
        rows.append(f"| {name} | {goal} | {measured} | **{status}** |")

    s_full = res.wall("stasis", "full")
    # 1. full capture vs the fastest chunking backup tool.
    others = [(res.wall(t, "full"), t) for t in ("restic", "borg", "borg-fixed", "casync") if res.wall(t, "full")]
    if s_full and others:
        w, t = min(others)
        r = w / s_full
        add("full capture vs fastest of restic/borg/casync", "≥ 3x faster",
            f"{r:.2f}x ({t} {secs(w)}, Stasis {secs(s_full)})", r >= 3)
    else:
        add("full capture vs fastest of restic/borg/casync", "≥ 3x faster", "missing data", None)
    # 2. vs lz4 -1.
    lz = res.wall("lz4", "full")
    if s_full and lz:
        add("full capture vs `lz4 -1`", "faster", f"{lz / s_full:.2f}x (lz4 {secs(lz)}, Stasis {secs(s_full)})",
            s_full < lz)
    else:
        add("full capture vs `lz4 -1`", "faster", "missing data", None)
    # 3. incremental with --dirty vs full.
    s_inc = res.wall("stasis", "incr")
    if s_full and s_inc:
        add("incremental with `--dirty` vs Stasis full", "< 10%",
            f"{100 * s_inc / s_full:.1f}% ({secs(s_inc)} / {secs(s_full)})", s_inc < 0.10 * s_full)
    else:
        add("incremental with `--dirty` vs Stasis full", "< 10%", "missing data", None)
    # 4. vs borg default incremental.
    b_inc = res.wall("borg", "incr")
    if s_inc and b_inc:
        add("incremental with `--dirty` vs borg default incremental", "≥ 10x faster",
            f"{b_inc / s_inc:.1f}x (borg {secs(b_inc)}, Stasis {secs(s_inc)})", b_inc >= 10 * s_inc)
    else:
        add("incremental with `--dirty` vs borg default incremental", "≥ 10x faster", "missing data", None)
    # 5. without --dirty vs full (same store kind, its own full capture).
    n_inc, n_full = res.wall("stasis-nodirty", "incr"), res.wall("stasis-nodirty", "full") or s_full
    if n_inc and n_full:
        add("incremental without `--dirty` vs full", "< 60%",
            f"{100 * n_inc / n_full:.1f}% ({secs(n_inc)} / {secs(n_full)})", n_inc < 0.60 * n_full)
    else:
        add("incremental without `--dirty` vs full", "< 60%", "missing data", None)
    # 6. materialize vs cp + fsync.
    s_res, c_res = res.wall("stasis", "restore"), res.wall("cp", "restore")
    if s_res and c_res:
        add("materialize vs `cp --sparse=always` + fsync", "≤ 1.3x",
            f"{s_res / c_res:.2f}x ({secs(s_res)} vs {secs(c_res)})", s_res <= 1.3 * c_res)
    else:
        add("materialize vs `cp --sparse=always` + fsync", "≤ 1.3x", "missing data", None)
    # 6b. what encryption costs (the same Stasis, a store made with --no-encryption).
    for step, label in (("full", "full capture"), ("restore", "materialize")):
        e, p = res.wall("stasis", step), res.wall("stasis-plain", step)
        if e and p:
            add(f"{label}, encrypted vs unencrypted", "≤ 1.15x", f"{e / p:.3f}x ({secs(e)} vs {secs(p)})", e <= 1.15 * p)
        else:
            add(f"{label}, encrypted vs unencrypted", "≤ 1.15x", "missing data", None)
    # 7. stored size vs casync and borg fixed.
    s_st, c_st = res.stored_mib("stasis"), res.stored_mib("casync")
    if s_st and c_st:
        add("stored after both vs casync", "≤", f"{s_st:.1f} MiB vs {c_st:.1f} MiB", s_st <= c_st)
    else:
        add("stored after both vs casync", "≤", "missing data", None)
    b_st = res.stored_mib("borg-fixed")
    if s_st and b_st:
        add("stored after both vs borg `fixed,65536`", "≤", f"{s_st:.1f} MiB vs {b_st:.1f} MiB", s_st <= b_st)
    else:
        add("stored after both vs borg `fixed,65536`", "≤", "missing data", None)
    # 7b. the LZ4 store (`init --compression lz4`) beside the default (zstd level 1).
    l_st = res.stored_mib("stasis-lz4")
    if l_st and c_st:
        add("stored after both, LZ4 store, vs casync", "(no target)", f"{l_st:.1f} MiB vs {c_st:.1f} MiB", None)
    for step, label in (("full", "full capture"), ("restore", "materialize")):
        z, l = res.wall("stasis", step), res.wall("stasis-lz4", step)
        if z and l:
            add(f"{label}, default (zstd) vs LZ4 store", "(cost, no target)", f"{z / l:.2f}x ({secs(z)} vs {secs(l)})", None)
    # 8. stored vs ideal (dedup 4 KiB + lz4 -1 of this very data).
    ideal = res.ideal_mib()
    if s_st and ideal:
        add("stored after both vs ideal (distinct pages, lz4 -1, this data)", "≤ 1.05x",
            f"{s_st / ideal:.3f}x ({s_st:.1f} MiB vs {ideal:.1f} MiB)", s_st <= 1.05 * ideal)
    else:
        add("stored after both vs ideal (distinct pages, lz4 -1, this data)", "≤ 1.05x", "missing data", None)
    if s_st and res.kind == "synthetic" and str(res.meta.get("size", "")).upper() in ("1G", "1GIB", "1024M"):
        add("stored after both vs 272 MiB (ideal of gen_image.py's 1 GiB data)", "≤ 1.15x",
            f"{s_st / IDEAL_1G_MIB:.3f}x ({s_st:.1f} MiB)", s_st <= 1.15 * IDEAL_1G_MIB)
    # 9. peak RSS on a 4 GiB image.
    if not show_memory:
        pass
    elif res.memory:
        m = max(r["maxrss_kib"] for r in res.memory) / 1024
        size = res.memory[0].get("size", "?")
        add(f"peak RSS of `stasis image capture`, {size} image", "< 256 MiB", f"{m:.1f} MiB",
            m < 256 if str(size).upper() in ("4G", "4GIB") else None)
    else:
        add("peak RSS of `stasis image capture`, 4 GiB image", "< 256 MiB", "not measured (--memory-test)", None)
    head = "| target | goal | measured (medians, wall) | status |\n|---|---|---|---|"
    return head + "\n" + "\n".join(rows)


def data_summary(res):
    lines = []
    if res.data and res.data.get("base") and res.data.get("next"):
        b, n = res.data["base"]["analysis"], res.data["next"]["analysis"]
        lines.append(
            f"Data: base {b['bytes'] / MiB:.0f} MiB, {100 * b['zeroFraction']:.1f}% zero pages, "
            f"{b['distinctNonZeroPages'] * 4096 / MiB:.1f} MiB distinct non-zero pages "
            f"({b['lz4DistinctStreamBytes'] / MiB:.1f} MiB after lz4 -1 as a stream, "
            f"{b['lz4DistinctPerPageBytes'] / MiB:.1f} MiB page by page; whole image "
            f"{b['lz4WholeBytes'] / MiB:.1f} MiB); next.img adds {n['distinctNonZeroPages'] * 4096 / MiB:.1f} MiB "
            f"of new pages ({n['lz4DistinctStreamBytes'] / MiB:.1f} MiB after lz4).")
    if res.ideal:
        d = res.ideal.get("distinct") or {}
        raw = f" of {d['bytes'] / MiB:.1f} MiB ({d['distinctPages']} pages)" if d.get("bytes") else ""
        lines.append(f"Ideal store for both images: {res.ideal['lz4_bytes'] / MiB:.1f} MiB = `lz4 -1` of their "
                     f"distinct non-zero 4 KiB pages{raw}, in image order, as one stream.")
    elif res.ideal_mib():
        lines.append(f"Ideal store for both images: {res.ideal_mib():.1f} MiB (analyze: distinct pages, lz4 -1).")
    for step in ("base", "next"):
        g = res.gen.get(step)
        if not g:
            continue
        st = g.get("stats") or {}
        extra = ""
        if "filesUsed" in st or "filesChanged" in st:  # gen_real_image.py's stats
            p = st.get("pages") or 0
            if step == "base" and p:
                extra = (f"; {st['nonZeroPages'] / p:.3f} of {p} pages non-zero, "
                         f"{st['distinctNonZeroPages']} distinct; {st['filesUsed']} files "
                         f"({st['dupCopies']} placed twice) of {st['filesAvailable']}")
            elif step == "next" and p:
                extra = (f"; {st['changedPages']} pages changed ({st['changedPages'] / p:.3f}) in "
                         f"{st['changedRuns']} runs, {st['newDistinctPages']} of them new distinct pages; "
                         f"files deleted {st['filesDeleted']}, gzipped {st['filesGzipped']}, "
                         f"lines sorted {st['filesSorted']}")
        elif step == "base" and st.get("pages"):
            p = st["pages"]
            extra = (f"; mix zero {st['zeroPages'] / p:.3f} dup {st['dupPages'] / p:.3f} "
                     f"comp {st['compPages'] / p:.3f} rand {st['randPages'] / p:.3f}")
        elif step == "next":
            extra = f"; {st.get('dirtyPages')} dirty pages in {st.get('dirtyRuns')} runs"
        lines.append(f"Generated {step}: {g['wall']:.2f} s wall{extra}.")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    recs = load(sys.argv[1])
    fsync_recs = [r for r in recs if r.get("kind") == "fsync_check"]
    # The memory test has its own image, whatever the data kinds: it is reported once, in the first
    # section, and a kind with nothing but it gets no section.
    memory = [r for r in recs if r.get("kind") == "memory"]
    sections = []
    for kind, krecs in by_data_kind(recs):
        res = Results([r for r in krecs if r.get("kind") != "memory"], kind, fsync_recs)
        if res.meta or res.gen or res.steps or res.stored:
            sections.append(res)
    if not sections:
        print("no results", file=sys.stderr)
        return 2
    sections[0].memory = memory
    m = sections[0].meta
    print(f"## Image store benchmark: {m.get('size', '?')} images, {m.get('runs', '?')} run(s), "
          f"{m.get('cpus', '?')} CPUs, {m.get('date', '?')}")
    print()
    if m.get("stasis_skipped"):
        print(f"Stasis skipped: {m['stasis_skipped']}.")
        print()
    print("Medians over runs; seconds wall / CPU (user+sys); warm page cache; "
          "stored = `du -sb` of the store after both captures (on disk = allocated blocks); "
          "stored / ideal = stored against the ideal store of that data.")
    bad = []
    for res in sections:
        print()
        print(f"### {DATA_TITLE.get(res.kind, res.kind)}")
        print()
        s = data_summary(res)
        if s:
            print(s)
            print()
        print(table(res))
        print()
        print(f"#### Stasis targets ({res.kind} data)")
        print()
        print(targets(res, show_memory=res is sections[0]))
        bad += [f"{t} ({res.kind})" for t, v in res.verify.items() if not all(v)]
    if bad:
        print()
        print(f"**RESTORE MISMATCH for: {', '.join(bad)}**")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
