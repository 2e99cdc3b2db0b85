#!/usr/bin/env bash
# LangGraph checkpointer benchmark: StasisSaver (gRPC to `stasis serve` on a fresh store, Unix
# socket) vs LangGraph's AsyncSqliteSaver vs InMemorySaver, same workloads side by side: raw
# API throughput/latency, a 200-step agent loop (wall time, storage growth), 20 threads x 20
# steps at once. Prints a table with PASS/FAIL against the targets kept in langgraph_bench.py
# and writes raw results to bench-data/langgraph-*.jsonl.
#
#   Tools/bench/langgraph.sh [--quick] [--ops N] [--steps N] [--repeats N]
#                            [--savers stasis,sqlite,memory] [--workloads loop,raw,multi]
#                            [--durability async,sync] [--keep] [-v]
#
# --quick is a ~1 minute smoke run. Every other option goes to langgraph_bench.py (--help).
# STASIS_BIN=/path/to/stasis skips the release build; PYTHON chooses the interpreter;
# BENCH_TMP the parent of the temporary directory (the store and the SQLite files share it,
# so both are on the same disk). --keep leaves that directory in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
python=${PYTHON:-python3}

savers=stasis,sqlite,memory
keep=0
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --savers) savers=$2; args+=("$1" "$2"); shift 2 ;;
        --savers=*) savers=${1#--savers=}; args+=("$1"); shift ;;
        --keep) keep=1; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

echo "== installing the pinned Python packages" >&2
"$python" -m pip install --quiet --disable-pip-version-check \
    "grpcio==1.85.3" "protobuf==7.36.2" "ormsgpack==1.13.1" \
    "langgraph==1.0.10" "langgraph-checkpoint==4.3.2" "langgraph-checkpoint-conformance==0.0.2" \
    "langgraph-checkpoint-sqlite==3.1.2" "aiosqlite==0.22.1" "sqlite-vec==0.1.9"
"$python" -m pip install --quiet --disable-pip-version-check --no-deps -e Tools/stasis-langgraph

work=$(mktemp -d "${BENCH_TMP:-/tmp}/stasis-lg.XXXXXX")
pid=
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [[ $keep == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p bench-data
out=bench-data/langgraph-$(date +%Y%m%d-%H%M%S).jsonl
stasis_args=()
if [[ ,$savers, == *,stasis,* ]]; then
    if [[ -n ${STASIS_BIN:-} ]]; then
        bin=$STASIS_BIN
    else
        echo "== swift build -c release --product stasis" >&2
        swift build -c release --product stasis >&2
        bin="$(swift build -c release --show-bin-path)/stasis"
    fi
    store=$work/store
    "$bin" init --store "$store" >/dev/null
    "$bin" serve --store "$store" >"$work/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        grep -q '^listening unix://' "$work/serve.log" && break
        kill -0 "$pid" 2>/dev/null || { echo "stasis serve exited:" >&2; cat "$work/serve.log" >&2; exit 1; }
        sleep 0.1
    done
    grep -q '^listening unix://' "$work/serve.log" || { echo "stasis serve not ready after 30 s:" >&2; cat "$work/serve.log" >&2; exit 1; }
    address=$(grep -m1 '^listening unix://' "$work/serve.log" | cut -d' ' -f2)
    echo "== stasis serve (pid $pid) $address" >&2
    stasis_args=(--stasis-address "$address" --stasis-store "$store" --stasis-pid "$pid")
fi

"$python" Tools/bench/langgraph_bench.py "${stasis_args[@]}" --sqlite-dir "$work/sqlite" --out "$out" "${args[@]}"

if [[ -n $pid ]]; then
    kill -TERM "$pid"
    code=0
    wait "$pid" || code=$?
    pid=
    disk=$(du -sB1 "$store" | cut -f1)
    echo "stasis serve exited with $code on SIGTERM; store after shutdown: $disk bytes on disk" \
        "($(cd "$store" && ls -l catalog.sqlite* 2>/dev/null | awk '{printf "%s %s; ", $NF, $5}'))"
    "$python" - "$out" "$code" "$disk" <<'EOF'
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"kind": "daemon_exit", "exit_code": int(sys.argv[2]), "store_du_bytes": int(sys.argv[3])}) + "\n")
EOF
    if [[ $code != 0 ]]; then echo "stasis serve log:" >&2; tail -20 "$work/serve.log" >&2; fi
fi
