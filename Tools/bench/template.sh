#!/usr/bin/env bash
# Sandboxes from a template, timed (TCG here): a new sandbox from the warm template until its
# guest answers an exec, a cold boot of the template until it answers, and what ten sandboxes
# (each writes a file and is paused) add to the store: their root disks, and everything.
# Prints medians. Uses (or builds) the Debian template of Tools/demo-template.sh.
#
#   Tools/bench/template.sh [--stasis BIN] [--runs 5] [--memory 512M] [--store DIR]
# BIN defaults to the release build (.build/release/stasis); a debug build works, slower.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
STASIS=.build/release/stasis
RUNS=5
MEMORY=512M
STORE=/tmp/stasis-bench-template
while (($#)); do
    case "$1" in
        --stasis) STASIS="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --memory) MEMORY="$2"; shift 2 ;;
        --store) STORE="$2"; shift 2 ;;
        -h|--help) sed -n 2,9p "$0"; exit 0 ;;
        *) echo "unknown option $1 (try --help)" >&2; exit 64 ;;
    esac
done
export STASIS_STORE="$STORE"
[[ -d $STORE ]] || "$STASIS" init --no-encryption >/dev/null
if ! "$STASIS" template show deb >/dev/null 2>&1; then
    "$STASIS" template build deb --debian bookworm --packages python3,git,make
fi
"$STASIS" template warm deb --memory "$MEMORY"

now() { date +%s.%N; }
median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.3f}")' "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

warm=() cold=()
for i in $(seq "$RUNS"); do
    t0=$(now); S=$("$STASIS" sandbox run --template deb --memory "$MEMORY"); "$STASIS" exec "$S" -- true; t1=$(now)
    warm+=("$(python3 -c "print($t1 - $t0)")"); "$STASIS" sandbox stop "$S" --discard >/dev/null
    t0=$(now); S=$("$STASIS" sandbox run --template deb --memory "$MEMORY" --cold); "$STASIS" exec "$S" -- true; t1=$(now)
    cold+=("$(python3 -c "print($t1 - $t0)")"); "$STASIS" sandbox stop "$S" --discard >/dev/null
done

image=$("$STASIS" template show deb --json | json 'd["imageID"]')
template_bytes=$("$STASIS" image show "$image" --json | json 'd["image"]["dataBytes"]')
before=$("$STASIS" stats --json | json 'd["storeBytes"]')
disks=0
for i in $(seq 10); do
    S=$("$STASIS" sandbox run --template deb --memory "$MEMORY")
    "$STASIS" exec "$S" --shell "echo sandbox $i > /root/mine.txt" >/dev/null
    C=$("$STASIS" sandbox pause "$S")
    disk=$("$STASIS" checkpoint show "$C" --json | json 'd["images"]["disk:root"]')
    disks=$((disks + $("$STASIS" image show "$disk" --json | json 'd["image"]["newBytes"]')))
done
after=$("$STASIS" stats --json | json 'd["storeBytes"]')

echo "template deb: $((template_bytes >> 20)) MiB of data; guest $MEMORY; $RUNS runs; TCG"
echo "warm template -> answering (s), median: $(median "${warm[@]}")   [${warm[*]}]"
echo "cold boot     -> answering (s), median: $(median "${cold[@]}")   [${cold[*]}]"
# A root disk's changed blocks are usually in the guest's page cache too, so they are stored with
# the memory image of the same checkpoint (same 4 KiB chunks) and the disk adds little or nothing:
# the "in all" figure is the one to read.
echo "ten sandboxes: root disks added $((disks >> 10)) KiB ($(python3 -c "print(round(100 * $disks / $template_bytes, 2))")% of the template); store grew $(((after - before) >> 20)) MiB in all (memory images included)"
