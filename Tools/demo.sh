#!/usr/bin/env bash
# The main job, end to end on a fresh machine: build Stasis, create a store, generate a 1 GiB
# synthetic guest-memory image and its successor (5% of pages rewritten, plus the sparse diff a
# Firecracker diff snapshot would be), capture both (the second incrementally), materialize the
# second back bit-exact, verify every chunk and print the store's statistics.
#
#   Tools/demo.sh [--size 1G] [--work DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE=1G
WORK=""
while (($#)); do
    case "$1" in
        --size) SIZE="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        -h|--help) sed -n 2,8p "$0"; exit 0 ;;
        *) echo "unknown option $1 (try --help)" >&2; exit 64 ;;
    esac
done
Tools/setup.sh
echo "== building (release)"
swift build -c release --product stasis >/dev/null
swift build -c release --product stasis-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
STASIS="$BIN/stasis"
WORK="${WORK:-$(mktemp -d /tmp/stasis-demo.XXXXXX)}"
mkdir -p "$WORK"
export STASIS_STORE="$WORK/store"
rm -rf "$STASIS_STORE"

echo "== generating a $SIZE guest memory image and its successor in $WORK"
"$BIN/stasis-bench" gen-image base "$WORK/base.img" --size "$SIZE" --seed 1 >/dev/null
"$BIN/stasis-bench" gen-image next "$WORK/base.img" "$WORK/next.img" --frac 0.05 --seed 2 --diff "$WORK/next.diff" >/dev/null

echo "== stasis init"
"$STASIS" init
echo "== stasis image capture base.img"
BASE=$("$STASIS" image capture "$WORK/base.img")
echo "== stasis image capture next.img --parent ${BASE:0:12} --dirty next.diff"
NEXT=$("$STASIS" image capture "$WORK/next.img" --parent "$BASE" --dirty "$WORK/next.diff")
echo "== stasis image materialize ${NEXT:0:12}"
"$STASIS" image materialize "$NEXT" "$WORK/restored.img" --force
cmp "$WORK/restored.img" "$WORK/next.img" && echo "restored.img is bit-exact"
echo "== stasis verify --deep"
"$STASIS" verify --deep
echo "== stasis image ls"
"$STASIS" image ls
echo "== stasis stats"
"$STASIS" stats
rm -f "$WORK/restored.img"
echo "done: store in $STASIS_STORE"
