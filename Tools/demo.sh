#!/usr/bin/env bash
# The main job, end to end on a fresh machine:
#  1. `stasis demo`: boot a QEMU microVM, give it state (a running process, a file, shell
#     variables), pause it into the store, resume it in a fresh sandbox and prove every state
#     survived, fork a second sandbox from the same checkpoint, replay the session's history.
#  2. a real agent task in a Debian template (Tools/demo-template.sh): python3, git and make in a
#     sandbox built by debootstrap; tests run, pause, resume, fork, diff of the forks' files.
#  3. the image store on its own: capture a generated 1 GiB guest-memory image and its successor
#     (5% of pages rewritten, plus the sparse diff a Firecracker diff snapshot would be)
#     incrementally, materialize it back bit-exact, verify every chunk, print the statistics.
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
        -h|--help) sed -n 2,12p "$0"; exit 0 ;;
        *) echo "unknown option $1 (try --help)" >&2; exit 64 ;;
    esac
done
Tools/setup.sh
Tools/guest/build.sh --quiet
echo "== building (release)"
swift build -c release --product stasis >/dev/null
swift build -c release --product stasis-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
STASIS="$BIN/stasis"
WORK="${WORK:-$(mktemp -d /tmp/stasis-demo.XXXXXX)}"
mkdir -p "$WORK"

echo "== part 1: stasis demo (a real microVM)"
"$STASIS" demo --store "$WORK/demo-store"

echo
echo "== part 2: an agent task in a Debian template"
Tools/demo-template.sh "$STASIS" --work "$WORK"

echo
echo "== part 3: the image store"
export STASIS_STORE="$WORK/store"
rm -rf "$STASIS_STORE"
"$BIN/stasis-bench" gen-image base "$WORK/base.img" --size "$SIZE" --seed 1 >/dev/null
"$BIN/stasis-bench" gen-image next "$WORK/base.img" "$WORK/next.img" --frac 0.05 --seed 2 --diff "$WORK/next.diff" >/dev/null
"$STASIS" init
BASE=$("$STASIS" image capture "$WORK/base.img")
echo "captured base.img as ${BASE:0:12}"
NEXT=$("$STASIS" image capture "$WORK/next.img" --parent "$BASE" --dirty "$WORK/next.diff")
echo "captured next.img incrementally as ${NEXT:0:12}"
"$STASIS" image materialize "$NEXT" "$WORK/restored.img" --force
cmp "$WORK/restored.img" "$WORK/next.img" && echo "restored.img is bit-exact"
"$STASIS" verify --deep
"$STASIS" stats
rm -f "$WORK/restored.img"
echo "done: stores in $WORK"
