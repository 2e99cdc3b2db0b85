#!/usr/bin/env python3
"""Deterministic "guest memory images" made of real files on this machine.

The synthetic images of `stasis-bench gen-image` follow a page mix chosen by hand; these follow
what a microVM's memory holds after its guest unpacked Python's standard library, documentation
and shared libraries into tmpfs and the page cache: each file's bytes page-aligned, in a shuffled
order, free (zero) memory between them, some files twice (a tmpfs copy and its page-cache copy).

  base      gen_real_image.py base OUT --size 1G [--seed N] [--fill 0.74] [--dup 0.05]
                                       [--roots DIR,DIR,...] [--dense]
            Walks the roots (files in sorted path order, no symlinks, unreadable ones skipped),
            shuffles them (seeded), lays each at a page boundary (tail zero-padded) with seeded runs
            of zero pages in between, until about FILL of the image's pages are non-zero. Zero pages
            are holes (the file is truncated to its size and only data is written) unless --dense.
            Writes OUT.layout.json: every placed file's path, offset and length.
  next      gen_real_image.py next BASE OUT --diff DIFF [--seed N] [--frac 0.03] [--dense]
            Copies BASE (holes stay holes) and changes about FRAC of its pages the way a guest does
            between two checkpoints: files from BASE.layout.json are deleted (pages zeroed), gzipped
            (level 6, written page-aligned over the file, the rest of its extent zeroed) or, for text
            files, have their lines sorted (log rotation and sorting). DIFF is a sparse file of the
            image's size holding exactly the pages that differ from BASE, zeros written as data where
            a page became zero, so its allocated ranges (SEEK_DATA / SEEK_HOLE) are the change, as
            with `stasis-bench gen-image next --diff`. OUT may be - (diff only).
  distinct  gen_real_image.py distinct IMG [IMG ...] --out FILE
            Writes every distinct non-zero page of the images, in image order, to FILE (the input of
            the "ideal store" size: `lz4 -1` of FILE).

Output depends only on the roots' contents, the size and the seeds (and zlib, for gzipped files).
Each mode prints one JSON line of stats on stderr.
"""
import argparse
import bisect
import glob
import gzip
import hashlib
import json
import math
import os
import random
import stat
import sys
import time

PAGE = 4096
ZERO_PAGE = bytes(PAGE)
CHUNK = 8 << 20  # bytes per read/write when streaming an image
LAYOUT_VERSION = 1

# Mutation mix of `next`, by file kind. Text files are the logs and sources a guest sorts or
# rotates; binaries are the libraries it gzips or deletes.
TEXT_MIX = (("sort", 0.45), ("gzip", 0.30), ("delete", 0.25))
BINARY_MIX = (("gzip", 0.55), ("delete", 0.45))


def default_roots():
    pythons = sorted(glob.glob("/usr/lib/python3.*"))
    return pythons + ["/usr/lib/x86_64-linux-gnu", "/usr/share/doc", "/usr/share/man", "/usr/bin",
                      "/usr/share/locale"]


def parse_size(text):
    t = text.strip().upper()
    for suffix in ("IB", "B"):
        if t.endswith(suffix) and len(t) > len(suffix) and t[-len(suffix) - 1] in "KMGT":
            t = t[:-len(suffix)]
            break
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    try:
        n = int(float(t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size: {text}")
    if n <= 0 or n % PAGE:
        raise argparse.ArgumentTypeError(f"size must be a positive multiple of {PAGE}: {text}")
    return n


def page_hash(page):
    # Only counts distinct pages; SHA-1 is the fastest digest hashlib has here (~1 GB/s).
    return hashlib.sha1(page).digest()


def nonzero_flags(buf):
    """One bool per page of buf (a multiple of PAGE long): is the page non-zero?"""
    n = len(buf) // PAGE
    # Most files hold no 4 KiB run of zeros at all; one C-level search spares the per-page loop.
    if ZERO_PAGE not in buf:
        return [True] * n
    mv = memoryview(buf)
    return [mv[i * PAGE:(i + 1) * PAGE] != ZERO_PAGE for i in range(n)]


def runs(flags):
    """(start, end) of the maximal runs of True in flags."""
    out, start = [], None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(flags)))
    return out


def pwrite_all(fd, data, offset):
    mv = memoryview(data)
    while mv:
        n = os.pwrite(fd, mv, offset)
        mv, offset = mv[n:], offset + n


def pread_all(fd, length, offset):
    parts, got = [], 0
    while got < length:
        b = os.pread(fd, length - got, offset + got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    data = b"".join(parts)
    return data + bytes(length - len(data))  # past EOF reads as zeros, as in a hole


def write_pages(fd, buf, offset, flags, dense):
    """Writes buf at offset: every page if dense, else only the non-zero runs (zero pages stay holes)."""
    if dense:
        pwrite_all(fd, buf, offset)
        return
    mv = memoryview(buf)
    for s, e in runs(flags):
        pwrite_all(fd, mv[s * PAGE:e * PAGE], offset + s * PAGE)


def has_data(fd, start, end):
    try:
        return os.lseek(fd, start, os.SEEK_DATA) < end
    except OSError:  # ENXIO: only a hole from start to EOF
        return False


def fill_holes(fd, size):
    """--dense: writes zeros over every hole, so the file has no hole left."""
    pos = 0
    while pos < size:
        try:
            hole = os.lseek(fd, pos, os.SEEK_HOLE)
        except OSError:
            break
        if hole >= size:
            break
        try:
            data = os.lseek(fd, hole, os.SEEK_DATA)
        except OSError:
            data = size
        data = min(data, size)
        for off in range(hole, data, CHUNK):
            pwrite_all(fd, bytes(min(CHUNK, data - off)), off)
        pos = data


def padded(data):
    return data + bytes(-len(data) % PAGE)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def list_files(roots):
    """(path, size) of every non-empty regular file under the roots, sorted by path."""
    seen, out = set(), []
    for root in roots:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for name in filenames:
                p = os.path.join(dirpath, name)
                if p in seen:
                    continue
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or not os.access(p, os.R_OK):
                    continue
                seen.add(p)
                out.append((p, st.st_size))
    out.sort()
    return out


def emit_stats(stats):
    print(json.dumps(stats, sort_keys=True, separators=(",", ":")), file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# base

def cmd_base(a):
    t0 = time.monotonic()
    size = a.size
    pages = size // PAGE
    roots = a.roots.split(",") if a.roots else default_roots()
    roots = [r for r in roots if r and os.path.isdir(r)]
    files = list_files(roots)
    if not files:
        sys.exit(f"gen_real_image: no readable files under {roots}")

    # One stream per decision, so that changing, say, the gap law leaves the file order alone.
    order_rng = random.Random(f"real-base:order:{a.seed}")
    gap_rng = random.Random(f"real-base:gaps:{a.seed}")
    dups = set(order_rng.sample(range(len(files)), round(a.dup * len(files))))
    entries = [(i, 0) for i in range(len(files))] + [(i, 1) for i in sorted(dups)]
    order_rng.shuffle(entries)

    # Pass 1: choose the files. Their zero pages (padding in libraries, sparse data) are holes, so
    # the non-zero count is only known from the bytes; reading them twice is cheaper than holding
    # hundreds of MiB. Near the target, files that would overshoot it by more than the slack are
    # passed over for smaller ones, so the fill ends close to FILL even with 100 MiB libraries.
    target = round(a.fill * pages)
    slack = max(16, pages // 200)
    chosen, used, nonzero = [], 0, 0
    for idx, copy in entries:
        if nonzero >= target:
            break
        path, fsize = files[idx]
        npages = -(-fsize // PAGE)
        if used + npages > pages or (nonzero + npages > target + slack and npages > 64):
            continue
        data = read_file(path)
        if data is None:
            continue
        data = padded(data[:npages * PAGE])
        nz = sum(nonzero_flags(data))
        if nz == 0 or nonzero + nz > target + slack:
            continue
        chosen.append((idx, copy, npages))
        used += npages
        nonzero += nz
    if nonzero < target:
        print(f"gen_real_image: warning: the roots hold only {nonzero} non-zero pages of the "
              f"{target} wanted ({a.fill:.0%} of {pages}); the rest of the image stays zero", file=sys.stderr)

    # Zero runs between files: free guest memory lies scattered between cached files, mostly in
    # short runs with a few long ones (squared exponential weights), and about a tenth of it stays
    # in one run at the end (memory the guest never touched since boot).
    free = pages - used
    weights = [gap_rng.expovariate(1.0) ** 2 for _ in chosen]
    total_w = sum(weights) or 1.0
    gap_budget = int(free * 0.9)
    gaps = [int(gap_budget * w / total_w) for w in weights]

    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    layout = []
    distinct = set()
    written_nonzero = 0
    pos = 0  # in pages
    try:
        os.ftruncate(fd, size)
        for (idx, copy, npages), gap in zip(chosen, gaps):
            pos += gap
            path = files[idx][0]
            data = read_file(path)
            if data is None:  # vanished since pass 1: its extent stays zero
                pos += npages
                continue
            data = data[:npages * PAGE]
            buf = padded(data)
            flags = nonzero_flags(buf)
            mv = memoryview(buf)
            for i, f in enumerate(flags):
                if f:
                    distinct.add(page_hash(mv[i * PAGE:(i + 1) * PAGE]))
            written_nonzero += sum(flags)
            write_pages(fd, buf, pos * PAGE, flags, a.dense)
            layout.append({"path": path, "offset": pos * PAGE, "length": len(data), "copy": copy})
            pos += npages
        if a.dense:
            fill_holes(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)

    with open(a.out + ".layout.json", "w") as f:
        json.dump({"version": LAYOUT_VERSION, "page": PAGE, "bytes": size, "seed": a.seed, "fill": a.fill,
                   "roots": roots, "files": layout}, f, indent=0)
        f.write("\n")

    emit_stats({
        "mode": "base", "bytes": size, "pages": pages, "seed": a.seed, "fill": a.fill, "sparse": not a.dense,
        "nonZeroPages": written_nonzero, "zeroPages": pages - written_nonzero,
        "distinctNonZeroPages": len(distinct),
        "filesAvailable": len(files), "filesUsed": len(layout),
        "dupCopies": sum(1 for e in layout if e["copy"]), "fileBytes": sum(e["length"] for e in layout),
        "roots": roots, "seconds": round(time.monotonic() - t0, 3),
    })


# ---------------------------------------------------------------------------------------------
# next

def sort_lines(data):
    """The file's lines sorted; same length, trailing newline kept in place."""
    if data.endswith(b"\n"):
        return b"\n".join(sorted(data[:-1].split(b"\n"))) + b"\n"
    return b"\n".join(sorted(data.split(b"\n")))


def pick(rng, mix):
    r, acc = rng.random(), 0.0
    for name, w in mix:
        acc += w
        if r < acc:
            return name
    return mix[-1][0]


def cmd_next(a):
    t0 = time.monotonic()
    with open(a.base + ".layout.json") as f:
        layout = json.load(f)
    fdin = os.open(a.base, os.O_RDONLY)
    try:
        size = os.fstat(fdin).st_size
        if size != layout["bytes"] or size % PAGE:
            sys.exit(f"gen_real_image: {a.base} is {size} bytes, its layout says {layout['bytes']}")
        pages = size // PAGE
        target = round(a.frac * pages)
        slack = max(8, target // 50)
        rng = random.Random(f"real-next:{a.seed}")
        entries = layout["files"]
        order = list(range(len(entries)))
        rng.shuffle(order)

        # Choose files and compute their new extents; patches maps a page index to its new bytes,
        # for pages that differ from BASE only.
        patches = {}
        changed = 0
        counts = {"delete": 0, "gzip": 0, "sort": 0}
        for i in order:
            if changed >= target:
                break
            e = entries[i]
            npages = -(-e["length"] // PAGE)
            old = pread_all(fdin, npages * PAGE, e["offset"])
            old_flags = nonzero_flags(old)
            # Every mutation rewrites about the extent's non-zero pages: skip files that cannot fit
            # the remaining budget before paying for gzip.
            if sum(old_flags) > target - changed + slack:
                continue
            data = old[:e["length"]]
            kind = pick(rng, BINARY_MIX if b"\0" in data else TEXT_MIX)
            if kind == "gzip":
                new = gzip.compress(data, compresslevel=6, mtime=0)
                if len(new) >= len(old):  # incompressible: it would not fit its extent; delete it
                    kind, new = "delete", b""
            elif kind == "sort":
                new = sort_lines(data)
            else:
                new = b""
            new = new + bytes(len(old) - len(new))
            diff = [p for p in range(npages)
                    if old[p * PAGE:(p + 1) * PAGE] != new[p * PAGE:(p + 1) * PAGE]]
            if not diff or changed + len(diff) > target + slack:
                continue
            first = e["offset"] // PAGE
            for p in diff:
                patches[first + p] = new[p * PAGE:(p + 1) * PAGE]
            changed += len(diff)
            counts[kind] += 1
        if changed < target:
            print(f"gen_real_image: warning: only {changed} of {target} pages could be changed", file=sys.stderr)

        patched = sorted(patches)
        fdout = None
        if a.out != "-":
            fdout = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if fdout is not None:
                os.ftruncate(fdout, size)
            base_distinct, next_distinct = set(), set()
            next_nonzero = 0
            for start in range(0, size, CHUNK):
                end = min(start + CHUNK, size)
                p0, p1 = start // PAGE, end // PAGE
                lo, hi = bisect.bisect_left(patched, p0), bisect.bisect_left(patched, p1)
                if not has_data(fdin, start, end) and lo == hi:
                    if fdout is not None and a.dense:
                        pwrite_all(fdout, bytes(end - start), start)
                    continue
                old = pread_all(fdin, end - start, start)
                buf = bytearray(old)
                for p in patched[lo:hi]:
                    buf[(p - p0) * PAGE:(p - p0 + 1) * PAGE] = patches[p]
                old_mv, new_mv = memoryview(old), memoryview(buf)
                old_flags = nonzero_flags(old)
                flags = nonzero_flags(buf)
                touched = {p - p0 for p in patched[lo:hi]}
                for k in range(p1 - p0):
                    # An unchanged page hashes once for both images.
                    if k not in touched:
                        if flags[k]:
                            h = page_hash(old_mv[k * PAGE:(k + 1) * PAGE])
                            base_distinct.add(h)
                            next_distinct.add(h)
                        continue
                    if old_flags[k]:
                        base_distinct.add(page_hash(old_mv[k * PAGE:(k + 1) * PAGE]))
                    if flags[k]:
                        next_distinct.add(page_hash(new_mv[k * PAGE:(k + 1) * PAGE]))
                next_nonzero += sum(flags)
                if fdout is not None:
                    write_pages(fdout, buf, start, flags, a.dense)
            if fdout is not None:
                os.fsync(fdout)
        finally:
            if fdout is not None:
                os.close(fdout)
    finally:
        os.close(fdin)

    # The diff: exactly the changed pages as data, zero pages included (a page that became zero
    # is a change; written as zeros it is allocated, so SEEK_DATA finds it), holes elsewhere.
    change_runs = runs_of_indices(patched)
    fd = os.open(a.diff, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)
        for s, e in change_runs:
            pwrite_all(fd, b"".join(patches[p] for p in range(s, e)), s * PAGE)
        os.fsync(fd)
    finally:
        os.close(fd)

    emit_stats({
        "mode": "next", "bytes": size, "pages": pages, "seed": a.seed, "fraction": a.frac,
        "sparse": not a.dense, "nonZeroPages": next_nonzero, "zeroPages": pages - next_nonzero,
        "distinctNonZeroPages": len(next_distinct),
        "newDistinctPages": len(next_distinct - base_distinct),
        "changedPages": changed, "changedRuns": len(change_runs),
        "filesChanged": sum(counts.values()), "filesDeleted": counts["delete"],
        "filesGzipped": counts["gzip"], "filesSorted": counts["sort"],
        "seconds": round(time.monotonic() - t0, 3),
    })


def runs_of_indices(sorted_pages):
    out = []
    for p in sorted_pages:
        if out and out[-1][1] == p:
            out[-1][1] = p + 1
        else:
            out.append([p, p + 1])
    return [tuple(r) for r in out]


# ---------------------------------------------------------------------------------------------
# distinct

def cmd_distinct(a):
    t0 = time.monotonic()
    seen = set()
    reports = []
    with open(a.out, "wb") as out:
        for path in a.images:
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                nonzero = new = 0
                for start in range(0, size, CHUNK):
                    end = min(start + CHUNK, size)
                    if not has_data(fd, start, end):
                        continue
                    buf = pread_all(fd, end - start, start)
                    buf += bytes(-len(buf) % PAGE)
                    mv = memoryview(buf)
                    keep = []
                    for k, f in enumerate(nonzero_flags(buf)):
                        if not f:
                            continue
                        nonzero += 1
                        page = mv[k * PAGE:(k + 1) * PAGE]
                        h = page_hash(page)
                        if h not in seen:
                            seen.add(h)
                            keep.append(page)
                    new += len(keep)
                    out.write(b"".join(keep))
            finally:
                os.close(fd)
            reports.append({"file": path, "pages": -(-size // PAGE), "nonZeroPages": nonzero,
                            "newDistinctPages": new})
    emit_stats({"mode": "distinct", "images": reports, "distinctPages": len(seen),
                "bytes": len(seen) * PAGE, "seconds": round(time.monotonic() - t0, 3)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="mode", required=True)

    b = sub.add_parser("base", help="write a base image from real files")
    b.add_argument("out")
    b.add_argument("--size", type=parse_size, default=parse_size("1G"))
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--fill", type=float, default=0.74, help="fraction of non-zero pages (default 0.74)")
    b.add_argument("--dup", type=float, default=0.05, help="fraction of files placed twice (default 0.05)")
    b.add_argument("--roots", help="comma-separated directories (default: python3.*, shared libraries, "
                                   "docs, man pages, /usr/bin, locales)")
    b.add_argument("--dense", action="store_true", help="write zero pages as zeros instead of holes")

    n = sub.add_parser("next", help="write the successor of a base image and its diff")
    n.add_argument("base")
    n.add_argument("out", help="output image, or - for the diff only")
    n.add_argument("--diff", required=True)
    n.add_argument("--seed", type=int, default=2)
    n.add_argument("--frac", type=float, default=0.03, help="fraction of pages to change (default 0.03)")
    n.add_argument("--dense", action="store_true", help="write zero pages of OUT as zeros instead of holes")

    d = sub.add_parser("distinct", help="write the distinct non-zero pages of images to a file")
    d.add_argument("images", nargs="+")
    d.add_argument("--out", required=True)

    a = ap.parse_args()
    if a.mode == "base":
        if not 0 < a.fill <= 1 or not 0 <= a.dup <= 1:
            ap.error("--fill must be in (0, 1] and --dup in [0, 1]")
        cmd_base(a)
    elif a.mode == "next":
        if not 0 <= a.frac <= 1:
            ap.error("--frac must be in [0, 1]")
        for p in (a.out, a.diff):
            if p != "-" and os.path.exists(p) and os.path.samefile(p, a.base):
                ap.error(f"{p} is the base image")
        cmd_next(a)
    else:
        cmd_distinct(a)


if __name__ == "__main__":
    main()
