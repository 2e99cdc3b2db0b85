#!/usr/bin/env bash
# History benchmark: appends 1,000,000 small events with one writer (batches of 1000) and
# 100,000 from 8 concurrent writers, then times `last 100`, a full verify and inclusion proofs —
# on a store on one host (SQLite) and on a fleet store (PostgreSQL catalog, SeaweedFS objects:
# the test services of Tools/services, started if they are not running), side by side.
# Targets (SQLite): >= 100,000 events/s appended, < 10 ms for the last 100, >= 1,000,000 events/s
# verified. On PostgreSQL the verify is also taken apart: the server executing the statement,
# the rows crossing the network and decoded, and the verifier's own checks.
#   Tools/bench/history.sh [--engine sqlite|postgres|both] [--events N] [--concurrent-events N] [--writers W]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ENGINE=both
ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --engine) ENGINE="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
case "$ENGINE" in sqlite|postgres|both) ;; *) echo "history.sh: --engine takes sqlite, postgres or both" >&2; exit 64 ;; esac
Tools/setup.sh
swift build -c release --product stasis-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
if [[ $ENGINE != postgres ]]; then
    "$BIN/stasis-bench" history ${ARGS[@]+"${ARGS[@]}"} | tee -a "$OUT/rows.jsonl" >&2
fi
if [[ $ENGINE != sqlite ]]; then
    # The services where they already listen (Tools/test.sh puts them on the hosts' bridge), else
    # on loopback; credentials as an operator passes them (PGPASSWORD, AWS_*), never in the URL.
    STATE="${STASIS_SERVICES_DIR:-/tmp/stasis-services}"
    ENV_FILE="$(Tools/services/start.sh --quiet --address "$(cat "$STATE/address" 2>/dev/null || echo 127.0.0.1)")"
    NAME="bench_history_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    eval "$(python3 - "$ENV_FILE" "$NAME" <<'PY'
import shlex, sys, urllib.parse
env = dict(l.split("=", 1) for l in open(sys.argv[1]).read().splitlines() if "=" in l and not l.startswith("#"))
pg = urllib.parse.urlsplit(env["STASIS_TEST_PG_URL"])
out = {
    "PGPASSWORD": pg.password or "",
    "AWS_ACCESS_KEY_ID": env["STASIS_TEST_S3_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": env["STASIS_TEST_S3_SECRET_ACCESS_KEY"],
    "AWS_ENDPOINT_URL": env["STASIS_TEST_S3_ENDPOINT"], "AWS_REGION": env["STASIS_TEST_S3_REGION"],
    "CATALOG": f"postgres://{pg.username}@{pg.hostname}:{pg.port}{pg.path}?schema={sys.argv[2]}",
    "OBJECTS": f"s3://{env['STASIS_TEST_S3_BUCKET']}/{sys.argv[2]}",
}
for k, v in out.items(): print(f"export {k}={shlex.quote(v)}")
PY
)"
    "$BIN/stasis-bench" history --catalog "$CATALOG" --objects "$OBJECTS" ${ARGS[@]+"${ARGS[@]}"} | tee -a "$OUT/rows.jsonl" >&2
fi
python3 - "$OUT/rows.jsonl" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line); rows[(d["engine"], d["measure"])] = d
engines = [e for e in ("sqlite", "postgres") if (e, "verify") in rows]
def get(e, m): return rows.get((e, m))
def cells(fmt, m):
    return [fmt(get(e, m)) for e in engines]
def ratio(key, m, higher_is_better=True):
    if len(engines) < 2: return ""
    a, b = get("sqlite", m)[key], get("postgres", m)[key]
    return f"{(a / b if higher_is_better else b / a):.1f}x" if b and a else ""
def met(ok): return "MET" if ok else "NOT MET"
s = {e: get(e, "verify") for e in engines}
print("\n| measure | " + " | ".join(engines) + (" | SQLite / PostgreSQL" if len(engines) == 2 else "") + " | target (SQLite) |")
print("|---|" + "---|" * len(engines) + ("---|" if len(engines) == 2 else "") + "---|")
def row(name, fmt, m, key, goal, ok, higher=True):
    r = [name] + cells(fmt, m) + ([ratio(key, m, higher)] if len(engines) == 2 else [])
    if "sqlite" in engines: r.append(f"{goal} {met(ok(get('sqlite', m)))}")
    else: r.append(goal)
    print("| " + " | ".join(r) + " |")
a = get(engines[0], "append-one-writer")
row(f"append, 1 writer, {a['events']:,} events, batches of {a['batch']}", lambda d: f"{d['events_per_s']:,.0f} events/s", "append-one-writer", "events_per_s", ">= 100,000/s", lambda d: d["events_per_s"] >= 100000)
c = get(engines[0], "append-concurrent")
row(f"append, {c['writers']} writers, {c['events']:,} events", lambda d: f"{d['events_per_s']:,.0f} events/s", "append-concurrent", "events_per_s", ">= 100,000/s", lambda d: d["events_per_s"] >= 100000)
row(f"show last 100 of {a['events']:,}", lambda d: f"{d['median_ms']:.2f} ms", "show-last-100", "median_ms", "< 10 ms", lambda d: d["median_ms"] < 10, higher=False)
row(f"verify {s[engines[0]]['events']:,} events", lambda d: f"{d['events_per_s']:,.0f} events/s ({d['seconds']:.2f} s)", "verify", "events_per_s", ">= 1,000,000/s", lambda d: d["events_per_s"] >= 1000000)
p = get(engines[0], "prove")
row(f"inclusion proof in {p['events']:,}", lambda d: f"{d['median_ms']:.2f} ms, {d['path_hashes']} hashes", "prove", "median_ms", "O(log n)", lambda d: True, higher=False)
b = get("postgres", "verify-breakdown")
if b:
    total = b["verify_s"]
    server = b["server_execution_s"]
    transfer = max(0.0, b["scan_s"] - server)
    verifier = b["verifier_s"]
    def part(x): return f"{x:.2f} s ({100 * x / total:.0f}%)"
    print(f"\nPostgreSQL verify of {b['events']:,} events ({b['row_bytes'] / 1e6:.0f} MB of rows), {total:.2f} s:")
    print(f"| part | time |\n|---|---|")
    print(f"| server executing the statement (EXPLAIN ANALYZE) | {part(server)} |")
    print(f"| rows over the network, decoded into catalog rows (a scan doing nothing: {b['scan_events_per_s']:,.0f} events/s) | {part(transfer)} |")
    print(f"| the verifier's checks and hashes | {part(verifier)} |")
PY
