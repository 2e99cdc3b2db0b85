#!/usr/bin/env bash
# fleet-sandbox.sh: pause a microVM sandbox on host A, resume it on host B, until its guest
# answers — hosts are network namespaces with store directories of their own, sharing a fleet
# store (PostgreSQL + SeaweedFS on their bridge); B's cache starts empty every run.
#
#   Tools/bench/fleet-sandbox.sh [--sizes "256M 1G"] [--runs 3] [--no-build]
#
# Prints, per guest size, the medians of: pause on A (until durable), resume on B (files, start),
# and the whole pause-on-A → answering-on-B time, which the issue wants under 2 s for 1 GiB.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SIZES="256M 1G"
RUNS=3
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sizes) SIZES="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "fleet-sandbox.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
SCRATCH="$REPO_ROOT/.build-release"
[[ $BUILD == 1 ]] && (cd "$REPO_ROOT" && swift build -c release --scratch-path "$SCRATCH" --product stasis >/dev/null)
BIN="$(cd "$REPO_ROOT" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"
"$REPO_ROOT/Tools/guest/build.sh" --quiet
"$REPO_ROOT/Tools/fleet/netns.sh" up 2
ENV_FILE="$("$REPO_ROOT/Tools/services/start.sh" --quiet --address "$("$REPO_ROOT/Tools/fleet/netns.sh" address)")"
WORK="$(mktemp -d /tmp/stasis-fleet-sandbox.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
exec python3 - "$BIN/stasis" "$ENV_FILE" "$WORK" "$RUNS" $SIZES <<'PYEOF'
import json, os, shutil, statistics, subprocess, sys, time, uuid
from urllib.parse import urlsplit
stasis, env_file, work, runs, sizes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
svc = dict(l.strip().split("=", 1) for l in open(env_file) if "=" in l and not l.startswith("#"))
pg = urlsplit(svc["STASIS_TEST_PG_URL"])
env = dict(os.environ, PGPASSWORD=pg.password or "", AWS_ACCESS_KEY_ID=svc["STASIS_TEST_S3_ACCESS_KEY_ID"],
           AWS_SECRET_ACCESS_KEY=svc["STASIS_TEST_S3_SECRET_ACCESS_KEY"], AWS_ENDPOINT_URL=svc["STASIS_TEST_S3_ENDPOINT"],
           AWS_REGION=svc["STASIS_TEST_S3_REGION"])
env.pop("STASIS_STORE", None)

def host(ns, store, *args, check=True):
    r = subprocess.run(["ip", "netns", "exec", ns, stasis, *args, "--store", store], env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"fleet-sandbox: {' '.join(args[:2])} on {ns} failed: {r.stderr.strip()}")
    return r

results = {}
for size in sizes:
    for run in range(1, runs + 1):
        name = "sbx_" + uuid.uuid4().hex[:12]
        fleet = ["--catalog", f"postgres://{pg.username}@{pg.hostname}:{pg.port}{pg.path}?schema={name}",
                 "--objects", f"s3://{svc['STASIS_TEST_S3_BUCKET']}/{name}"]
        a, b = os.path.join(work, name + "-a"), os.path.join(work, name + "-b")
        host("stasis-h1", a, "init", *fleet)
        host("stasis-h2", b, "init", *fleet, "--key", os.path.join(a, "keys", "store.ed25519"))
        session = None
        try:
            session = json.loads(host("stasis-h1", a, "sandbox", "run", "--memory", size, "--disk", "256M", "--json").stdout)["session"]
            # Give the guest state in memory: a quarter of its RAM in tmpfs, incompressible.
            mib = int(size[:-1]) * (1024 if size.endswith("G") else 1) // 4
            host("stasis-h1", a, "exec", session, "--shell", f"head -c {mib}M /dev/urandom > /tmp/state; sync")
            t0 = time.monotonic()
            paused = json.loads(host("stasis-h1", a, "sandbox", "pause", session, "--json").stdout)
            t1 = time.monotonic()
            resumed = json.loads(host("stasis-h2", b, "sandbox", "resume", session, "--json").stdout)
            host("stasis-h2", b, "exec", session, "--shell", "true")
            t2 = time.monotonic()
            row = {"pause": t1 - t0, "resume": t2 - t1, "total": t2 - t0, "downtime_ms": paused["downtimeMs"],
                   "files": resumed["materializeSeconds"], "start": resumed["startSeconds"]}
            print(f"  {size} run {run}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
            for k, v in row.items():
                results.setdefault((size, k), []).append(v)
        finally:
            # Whatever happened, no VM outlives the run (on either host).
            if session:
                host("stasis-h1", a, "sandbox", "stop", session, "--discard", check=False)
                host("stasis-h2", b, "sandbox", "stop", session, "--discard", check=False)
        shutil.rmtree(a, ignore_errors=True); shutil.rmtree(b, ignore_errors=True)

print("\n| guest | pause on A (s) | downtime (ms) | resume on B (s) | of which files | of which start | pause on A → answering on B (s) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for size in sizes:
    m = {k: statistics.median(results[(size, k)]) for k in ("pause", "downtime_ms", "resume", "files", "start", "total")}
    print(f"| {size} | {m['pause']:.2f} | {m['downtime_ms']:.0f} | {m['resume']:.2f} | {m['files']:.2f} | {m['start']:.2f} | {m['total']:.2f} |")
PYEOF
