#!/usr/bin/env bash
# LangGraph checkpointer benchmark: StasisSaver (gRPC to `stasis serve` on a fresh store, Unix
# socket) vs LangGraph's AsyncSqliteSaver vs InMemorySaver, and — for "many hosts, one store" —
# StasisSaver on a fleet store (catalog in PostgreSQL, objects in SeaweedFS) served by two
# daemons on two hosts vs LangGraph's AsyncPostgresSaver on the same PostgreSQL. Same workloads
# side by side: raw API throughput/latency, a 200-step agent loop (wall time, storage growth),
# 20 threads x 20 steps at once. Prints a table with PASS/FAIL against the targets kept in
# langgraph_bench.py and writes raw results to bench-data/langgraph-*.jsonl.
#
#   Tools/bench/langgraph.sh [--quick] [--ops N] [--steps N] [--repeats N]
#                            [--savers stasis,stasis-fleet,postgres,sqlite,memory]
#                            [--workloads loop,raw,multi,store] [--durability async,sync] [--keep] [-v]
#
# --workloads store measures LangGraph's memory store instead: StasisStore vs AsyncPostgresStore
# (postgres) vs InMemoryStore (memory), put/get/search from 16 tasks at once, e.g.
#   Tools/bench/langgraph.sh --savers stasis,postgres,memory --workloads store
#
# Savers (default: stasis,sqlite,memory; the two below need the services):
#   stasis        one daemon on a fresh one-host store (SQLite catalog, packs on local disk)
#   stasis-fleet  a fresh fleet store — catalog in a new schema of the services' PostgreSQL,
#                 objects under a new prefix of their SeaweedFS bucket — joined by two hosts,
#                 the network namespaces stasis-h1 and stasis-h2 (Tools/fleet/netns.sh up 2),
#                 each running its own `stasis serve` (Unix socket in its host directory). The
#                 many-threads run sends half the threads to each daemon; the agent loop's three
#                 segments alternate between them (the thread continues on the other host).
#   postgres      AsyncPostgresSaver (langgraph-checkpoint-postgres) on an AsyncConnectionPool
#                 to the same PostgreSQL, a fresh schema per measurement, dropped afterwards.
# The services are the ones Tools/services/start.sh started: their env file is
# $STASIS_SERVICES_ENV, else $STASIS_SERVICES_DIR/env, else /tmp/stasis-services/env. This
# script never starts or stops them, nor the namespaces; it drops the schemas and deletes the
# bucket prefix it created.
#
# --quick is a ~1 minute smoke run. Every other option goes to langgraph_bench.py (--help).
# STASIS_BIN=/path/to/stasis skips the release build; PYTHON chooses the interpreter;
# BENCH_TMP the parent of the temporary directory (the store and the SQLite files share it,
# so both are on the same disk). --keep leaves that directory (and the fleet schema and prefix)
# in place.
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
has() { [[ ,$savers, == *,$1,* ]]; }

packages=("grpcio==1.85.3" "protobuf==7.36.2" "ormsgpack==1.13.1"
    "langgraph==1.0.10" "langgraph-checkpoint==4.3.2" "langgraph-checkpoint-conformance==0.0.2"
    "langgraph-checkpoint-sqlite==3.1.2" "aiosqlite==0.22.1" "sqlite-vec==0.1.9")
if has postgres || has stasis-fleet; then
    # AsyncPostgresSaver (and psycopg for the storage queries); boto3 lists the bucket prefix.
    packages+=("langgraph-checkpoint-postgres==3.2.0" "psycopg[binary]==3.3.9" "psycopg-pool==3.3.3"
        "boto3==1.43.11")
fi
echo "== installing the pinned Python packages" >&2
"$python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
"$python" -m pip install --quiet --disable-pip-version-check --no-deps -e Tools/stasis-langgraph

work=$(mktemp -d "${BENCH_TMP:-/tmp}/stasis-lg.XXXXXX")
pid=
fleet_pids=()
fleet_schema=
fleet_objects=
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    for p in "${fleet_pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [[ -n $fleet_schema && $keep != 1 ]]; then
        "$python" Tools/bench/langgraph_services.py drop --schema "$fleet_schema" --objects "$fleet_objects" >&2 || true
    fi
    if [[ $keep == 1 ]]; then
        echo "kept $work${fleet_schema:+ (fleet store: schema $fleet_schema, objects $fleet_objects)}" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

bin=
if has stasis || has stasis-fleet; then
    if [[ -n ${STASIS_BIN:-} ]]; then
        bin=$STASIS_BIN
    else
        echo "== swift build -c release --product stasis" >&2
        swift build -c release --product stasis >&2
        bin="$(swift build -c release --show-bin-path)/stasis"
    fi
fi

# Waits for `listening unix://…` in LOG from daemon PID; prints the address.
wait_listening() {
    local p=$1 log=$2
    for _ in $(seq 300); do
        grep -q '^listening unix://' "$log" && break
        kill -0 "$p" 2>/dev/null || { echo "stasis serve exited:" >&2; cat "$log" >&2; return 1; }
        sleep 0.1
    done
    grep -q '^listening unix://' "$log" || { echo "stasis serve not ready after 30 s:" >&2; cat "$log" >&2; return 1; }
    grep -m1 '^listening unix://' "$log" | cut -d' ' -f2
}

mkdir -p bench-data
out=bench-data/langgraph-$(date +%Y%m%d-%H%M%S).jsonl
stasis_args=()
if has stasis; then
    store=$work/store
    "$bin" init --store "$store" >/dev/null
    "$bin" serve --store "$store" >"$work/serve.log" 2>&1 &
    pid=$!
    address=$(wait_listening "$pid" "$work/serve.log")
    echo "== stasis serve (pid $pid) $address" >&2
    stasis_args=(--stasis-address "$address" --stasis-store "$store" --stasis-pid "$pid")
fi

if has postgres || has stasis-fleet; then
    env_file=${STASIS_SERVICES_ENV:-${STASIS_SERVICES_DIR:-/tmp/stasis-services}/env}
    [[ -r $env_file ]] || { echo "no services env file at $env_file: start them with Tools/services/start.sh (the postgres and stasis-fleet savers need PostgreSQL and SeaweedFS)" >&2; exit 1; }
    set -a; source "$env_file"; set +a
    export STASIS_SERVICES_DIR=$(dirname "$env_file")
    # What an operator exports on every host: credentials in the environment, never in arguments.
    PGPASSWORD="$("$python" -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).password or "")' "$STASIS_TEST_PG_URL")"
    export PGPASSWORD AWS_ACCESS_KEY_ID="$STASIS_TEST_S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$STASIS_TEST_S3_SECRET_ACCESS_KEY"
    export AWS_ENDPOINT_URL="$STASIS_TEST_S3_ENDPOINT" AWS_REGION="$STASIS_TEST_S3_REGION"
    args+=(--services-dir "$STASIS_SERVICES_DIR")
fi

if has stasis-fleet; then
    hosts=(${FLEET_HOSTS:-stasis-h1 stasis-h2})
    for ns in "${hosts[@]}"; do
        ip netns list | grep -qw "$ns" || { echo "network namespace $ns is missing: Tools/fleet/netns.sh up 2 makes stasis-h1 and stasis-h2" >&2; exit 1; }
    done
    fleet_schema=lgfleet_$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')
    fleet_objects=s3://$STASIS_TEST_S3_BUCKET/$fleet_schema
    catalog="$("$python" -c 'import sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); print(f"postgres://{u.username}@{u.hostname}:{u.port}{u.path}?schema={sys.argv[2]}")' "$STASIS_TEST_PG_URL" "$fleet_schema")"
    addresses=() dirs=()
    for i in "${!hosts[@]}"; do
        ns=${hosts[$i]} dir=$work/fleet-$((i + 1))
        if [[ $i == 0 ]]; then
            ip netns exec "$ns" "$bin" init --store "$dir" --catalog "$catalog" --objects "$fleet_objects" >/dev/null
            # The copies of the first host's keys every other host joins with.
            install -m 600 "$dir/keys/store.ed25519" "$work/store.ed25519"
            install -m 600 "$dir/keys/master.key" "$work/master.key"
        else
            ip netns exec "$ns" "$bin" init --store "$dir" --catalog "$catalog" --objects "$fleet_objects" \
                --key "$work/store.ed25519" --master-key "$work/master.key" >/dev/null
        fi
        # `ip netns exec` execs the command, so $! is the daemon itself.
        ip netns exec "$ns" "$bin" serve --store "$dir" >"$work/serve-fleet-$((i + 1)).log" 2>&1 &
        fleet_pids+=($!)
        addresses+=("$(wait_listening "$!" "$work/serve-fleet-$((i + 1)).log")")
        dirs+=("$dir")
        echo "== stasis serve on host $ns (pid $!) ${addresses[-1]}" >&2
    done
    echo "== fleet store: catalog $catalog, objects $fleet_objects" >&2
    join() { local IFS=,; echo "$*"; }
    stasis_args+=(--fleet-address "$(join "${addresses[@]}")" --fleet-store "$(join "${dirs[@]}")"
        --fleet-pid "$(join "${fleet_pids[@]}")" --fleet-hosts "$(join "${hosts[@]}")"
        --fleet-schema "$fleet_schema" --fleet-objects "$fleet_objects")
fi

"$python" Tools/bench/langgraph_bench.py "${stasis_args[@]}" --sqlite-dir "$work/sqlite" --out "$out" "${args[@]}"

# Stops daemon PID; appends its exit code (and the store's size on disk) to the results.
stop_daemon() {
    local p=$1 label=$2 store=$3 code=0
    kill -TERM "$p"
    wait "$p" || code=$?
    local disk; disk=$(du -sB1 "$store" | cut -f1)
    echo "$label exited with $code on SIGTERM; store directory after shutdown: $disk bytes on disk" \
        "($(cd "$store" && ls -l catalog.sqlite* 2>/dev/null | awk '{printf "%s %s; ", $NF, $5}'))"
    "$python" - "$out" "$code" "$disk" "$label" <<'PY'
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"kind": "daemon_exit", "daemon": sys.argv[4], "exit_code": int(sys.argv[2]), "store_du_bytes": int(sys.argv[3])}) + "\n")
PY
    return $code
}
if [[ -n $pid ]]; then
    p=$pid; pid=
    stop_daemon "$p" "stasis serve" "$store" || { echo "stasis serve log:" >&2; tail -20 "$work/serve.log" >&2; }
fi
for i in "${!fleet_pids[@]}"; do
    p=${fleet_pids[$i]}
    stop_daemon "$p" "stasis serve on ${hosts[$i]}" "${dirs[$i]}" \
        || { echo "stasis serve log (${hosts[$i]}):" >&2; tail -20 "$work/serve-fleet-$((i + 1)).log" >&2; }
done
fleet_pids=()
