#!/usr/bin/env bash
# fleet.sh: a fleet store (catalog in PostgreSQL, objects in SeaweedFS) against restic with its
# S3 backend on the same SeaweedFS, on the same deterministic VM-memory images:
#   capture of a base image and of its successor (5% of pages changed, by default),
#   restore of the successor on a host with an empty cache,
#   and Stasis's restore from a store on one host (local disk, SQLite) for scale.
#
#   Tools/bench/fleet.sh                  # 1 GiB images, 3 runs
#   Tools/bench/fleet.sh --size 256M --runs 1
#
# Starts the test services (Tools/services/start.sh) if they are not running, builds release
# binaries into .build-release, installs restic with apt-get if missing. Prints a table of medians
# and the ratios the issue sets as targets; the raw timings go to WORK/fleet-<time>.jsonl.
set -euo pipefail
export LC_ALL=C
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SIZE=1G
RUNS=3
FRAC=0.05
WORK="$REPO_ROOT/bench-data/fleet"
BUILD=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) SIZE="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --frac) FRAC="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "fleet.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done

command -v restic >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic >/dev/null; }
SCRATCH="$REPO_ROOT/.build-release"
if [[ $BUILD == 1 ]]; then
    (cd "$REPO_ROOT" && swift build -c release --scratch-path "$SCRATCH" --product stasis >/dev/null \
        && swift build -c release --scratch-path "$SCRATCH" --product stasis-bench >/dev/null)
fi
BIN="$(cd "$REPO_ROOT" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"
# The services where they already listen (Tools/test.sh puts them on the hosts' bridge), else
# on loopback.
STATE="${STASIS_SERVICES_DIR:-/tmp/stasis-services}"
ADDRESS="$(cat "$STATE/address" 2>/dev/null || echo 127.0.0.1)"
ENV_FILE="$("$REPO_ROOT/Tools/services/start.sh" --quiet --address "$ADDRESS")"
mkdir -p "$WORK"
exec python3 "$REPO_ROOT/Tools/bench/fleet_bench.py" --stasis "$BIN/stasis" --bench "$BIN/stasis-bench" \
    --services "$ENV_FILE" --size "$SIZE" --runs "$RUNS" --frac "$FRAC" --work "$WORK"
