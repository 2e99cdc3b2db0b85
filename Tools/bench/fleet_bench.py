#!/usr/bin/env python3
"""The fleet benchmark's runs and report (Tools/bench/fleet.sh sets it up).

Each run uses a fresh PostgreSQL schema and a fresh bucket prefix, so nothing carries over between
runs or tools. "Cold host" means a store directory joined just before the restore: its cache is
empty and every pack comes from SeaweedFS; restic's cold restore runs with --no-cache.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit


def load_services(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                values[k] = v
    return values


def timed(cmd, env, log):
    start = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=out)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"fleet bench: {' '.join(cmd[:3])}… failed with {proc.returncode}; see {log}")
    return elapsed, proc.stdout.decode()


def main():
    ap = argparse.ArgumentParser()
    for name in ("stasis", "bench", "services", "size", "work"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frac", default="0.05")
    a = ap.parse_args()

    svc = load_services(a.services)
    pg = urlsplit(svc["STASIS_TEST_PG_URL"])
    env = dict(os.environ)
    env.update({
        "PGPASSWORD": pg.password or "",
        "AWS_ACCESS_KEY_ID": svc["STASIS_TEST_S3_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": svc["STASIS_TEST_S3_SECRET_ACCESS_KEY"],
        "AWS_ENDPOINT_URL": svc["STASIS_TEST_S3_ENDPOINT"],
        "AWS_REGION": svc["STASIS_TEST_S3_REGION"],
        "RESTIC_PASSWORD": "stasis-bench",
    })
    env.pop("STASIS_STORE", None)
    bucket = svc["STASIS_TEST_S3_BUCKET"]
    endpoint = svc["STASIS_TEST_S3_ENDPOINT"]
    catalog_base = f"postgres://{pg.username}@{pg.hostname}:{pg.port}{pg.path}"

    work = a.work
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    log = os.path.join(work, "fleet.log")
    base, nxt, diff = (os.path.join(data, n) for n in ("base.img", "next.img", "next.diff"))
    if not os.path.exists(nxt):
        subprocess.run([a.bench, "gen-image", "base", base, "--size", a.size, "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([a.bench, "gen-image", "next", base, nxt, "--frac", a.frac, "--seed", "2", "--diff", diff],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["sync"])
    for path in (base, nxt, diff):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass

    results = os.path.join(work, f"fleet-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    rows = {}

    def record(tool, step, run, seconds):
        rows.setdefault((tool, step), []).append(seconds)
        with open(results, "a") as f:
            f.write(json.dumps({"tool": tool, "step": step, "run": run, "seconds": seconds}) + "\n")
        print(f"  run {run} {tool:<13} {step:<13} {seconds:8.2f} s", flush=True)

    def fresh(path):
        shutil.rmtree(path, ignore_errors=True)
        return path

    def same(path):
        if subprocess.run(["cmp", "-s", path, nxt]).returncode != 0:
            sys.exit(f"fleet bench: {path} differs from next.img")
        os.remove(path)

    for run in range(1, a.runs + 1):
        name = "bench_" + uuid.uuid4().hex[:12]
        catalog = f"{catalog_base}?schema={name}"
        objects = f"s3://{bucket}/{name}"
        hosts = fresh(os.path.join(work, "hosts"))
        os.makedirs(hosts)
        S = a.stasis

        # Stasis, fleet: capture on host A, restore on host B (cold) and on A (warm).
        host_a, host_b = os.path.join(hosts, "a"), os.path.join(hosts, "b")
        timed([S, "init", "--store", host_a, "--catalog", catalog, "--objects", objects], env, log)
        t, out = timed([S, "image", "capture", base, "--store", host_a, "--json"], env, log)
        record("stasis-fleet", "capture", run, t)
        parent = json.loads(out)["id"]
        t, out = timed([S, "image", "capture", nxt, "--store", host_a, "--parent", parent, "--dirty", diff, "--json"], env, log)
        record("stasis-fleet", "capture-next", run, t)
        image = json.loads(out)["id"]
        timed([S, "init", "--store", host_b, "--catalog", catalog, "--objects", objects,
               "--key", os.path.join(host_a, "keys", "store.ed25519")], env, log)
        out_b = os.path.join(hosts, "b.img")
        t, _ = timed([S, "image", "materialize", image, out_b, "--store", host_b], env, log)
        record("stasis-fleet", "restore-cold", run, t)
        same(out_b)
        out_a = os.path.join(hosts, "a.img")
        t, _ = timed([S, "image", "materialize", image, out_a, "--store", host_a], env, log)
        record("stasis-fleet", "restore-warm", run, t)
        same(out_a)

        # Stasis on one host (local disk, SQLite).
        local = os.path.join(hosts, "local")
        timed([S, "init", "--store", local], env, log)
        t, out = timed([S, "image", "capture", base, "--store", local, "--json"], env, log)
        record("stasis-local", "capture", run, t)
        parent = json.loads(out)["id"]
        t, out = timed([S, "image", "capture", nxt, "--store", local, "--parent", parent, "--dirty", diff, "--json"], env, log)
        record("stasis-local", "capture-next", run, t)
        image = json.loads(out)["id"]
        out_l = os.path.join(hosts, "l.img")
        t, _ = timed([S, "image", "materialize", image, out_l, "--store", local], env, log)
        record("stasis-local", "restore", run, t)
        same(out_l)

        # restic, S3 backend on the same SeaweedFS.
        repo = f"s3:{endpoint}/{bucket}/restic-{name}"
        cache = os.path.join(hosts, "restic-cache")
        timed(["restic", "-r", repo, "--cache-dir", cache, "init", "-q"], env, log)
        t, _ = timed(["bash", "-c", f'cd "{data}" && restic -r "{repo}" --cache-dir "{cache}" --host bench backup -q base.img'], env, log)
        record("restic-s3", "capture", run, t)
        t, _ = timed(["bash", "-c", f'cd "{data}" && restic -r "{repo}" --cache-dir "{cache}" --host bench backup -q next.img'], env, log)
        record("restic-s3", "capture-next", run, t)
        target = fresh(os.path.join(hosts, "restic-out"))
        t, _ = timed(["bash", "-c", f'restic -r "{repo}" --no-cache restore latest --target "{target}" -q && sync "{target}/next.img"'], env, log)
        record("restic-s3", "restore-cold", run, t)
        same(os.path.join(target, "next.img"))
        shutil.rmtree(hosts, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\nfleet benchmark: {a.size} images, {a.frac} changed, {a.runs} run(s); medians in seconds ({results})")
    print(f"| step | stasis fleet | stasis local | restic S3 |")
    print(f"| --- | ---: | ---: | ---: |")
    for step in ("capture", "capture-next", "restore-cold", "restore-warm", "restore"):
        cells = [med.get((tool, step)) for tool in ("stasis-fleet", "stasis-local", "restic-s3")]
        if any(c is not None for c in cells):
            print(f"| {step} | " + " | ".join("—" if c is None else f"{c:.2f}" for c in cells) + " |")

    def ratio(label, num, den, target, higher_is_better=True):
        if num not in med or den not in med:
            return
        r = med[num] / med[den]
        met = r >= target if higher_is_better else r <= target
        print(f"{label}: {r:.2f}× (target {'≥' if higher_is_better else '≤'} {target}×) {'met' if met else 'NOT met'}")

    print()
    ratio("capture, restic ÷ stasis fleet", ("restic-s3", "capture"), ("stasis-fleet", "capture"), 3)
    ratio("capture of the successor, restic ÷ stasis fleet", ("restic-s3", "capture-next"), ("stasis-fleet", "capture-next"), 3)
    ratio("cold-host restore, restic ÷ stasis fleet", ("restic-s3", "restore-cold"), ("stasis-fleet", "restore-cold"), 3)
    ratio("cold-host restore ÷ local restore (stasis)", ("stasis-fleet", "restore-cold"), ("stasis-local", "restore"), 2, higher_is_better=False)


if __name__ == "__main__":
    main()
