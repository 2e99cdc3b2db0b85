#!/usr/bin/env bash
# bundle.sh: what an encrypted bundle costs. One session holding a checkpoint of a real-data
# memory image (Tools/bench/gen_real_image.py: this machine's files laid out as a guest's tmpfs
# and page cache hold them), exported, verified and imported plain and encrypted
# (--passphrase-file), side by side with what a user does without encrypted bundles: a plain
# export followed by `gpg --symmetric` (AES-256) and, on the way back, `gpg --decrypt` before the
# import. Release build; medians of N runs and ratios to the plain bundle, in one run.
#
#   Tools/bench/bundle.sh [--size 1G] [--runs 3] [--work DIR]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SIZE=1G RUNS=3 WORK=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) SIZE="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "bundle.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
command -v gpg >/dev/null || { echo "bundle.sh: gpg is missing (apt-get install gnupg)" >&2; exit 1; }
swift build -c release --scratch-path .build-release --product stasis >/dev/null
BIN="$PWD/.build-release/release/stasis"
if [[ -z $WORK ]]; then WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$WORK"
echo "bundle.sh: making a $SIZE real-data image in $WORK" >&2
python3 Tools/bench/gen_real_image.py base "$WORK/mem.img" --size "$SIZE" >/dev/null
printf 'bench passphrase %s\n' "$RANDOM$RANDOM" > "$WORK/pass"
export GNUPGHOME="$WORK/gnupg"; mkdir -p -m 700 "$GNUPGHOME"

"$BIN" init --store "$WORK/src" >/dev/null
S=$("$BIN" session new --store "$WORK/src")
"$BIN" checkpoint create "$S" --memory "$WORK/mem.img" --store "$WORK/src" >/dev/null

# time_of LABEL COMMAND...: appends "LABEL seconds" to the results (wall time of one command).
time_of() {
    local label="$1"; shift
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "bundle.sh: $label failed: $*" >&2; exit 1; }; t1=$(date +%s%N)
    awk -v l="$label" -v ns="$((t1 - t0))" 'BEGIN { printf "%s %.6f\n", l, ns / 1e9 }' >> "$WORK/times"
}

: > "$WORK/times"
for run in $(seq "$RUNS"); do
    echo "bundle.sh: run $run of $RUNS" >&2
    rm -rf "$WORK"/*.bundle "$WORK"/*.gpg "$WORK"/dst-*
    time_of export-plain "$BIN" bundle export "$S" -o "$WORK/p.bundle" --store "$WORK/src"
    time_of export-encrypted "$BIN" bundle export "$S" -o "$WORK/e.bundle" --store "$WORK/src" --passphrase-file "$WORK/pass"
    time_of export-plain+gpg sh -c "'$BIN' bundle export '$S' -o '$WORK/g.bundle' --store '$WORK/src' && \
        gpg --batch --yes --quiet --pinentry-mode loopback --passphrase-file '$WORK/pass' --symmetric --cipher-algo AES256 --compress-algo none -o '$WORK/g.bundle.gpg' '$WORK/g.bundle' && rm '$WORK/g.bundle'"
    time_of verify-plain "$BIN" bundle verify "$WORK/p.bundle"
    time_of verify-encrypted "$BIN" bundle verify "$WORK/e.bundle" --passphrase-file "$WORK/pass"
    time_of verify-gpg+plain sh -c "gpg --batch --yes --quiet --pinentry-mode loopback --passphrase-file '$WORK/pass' --decrypt -o '$WORK/g2.bundle' '$WORK/g.bundle.gpg' && '$BIN' bundle verify '$WORK/g2.bundle' && rm '$WORK/g2.bundle'"
    for kind in plain encrypted; do
        "$BIN" init --store "$WORK/dst-$kind" >/dev/null
    done
    time_of import-plain "$BIN" bundle import "$WORK/p.bundle" --store "$WORK/dst-plain"
    time_of import-encrypted "$BIN" bundle import "$WORK/e.bundle" --store "$WORK/dst-encrypted" --passphrase-file "$WORK/pass"
    "$BIN" init --store "$WORK/dst-gpg" >/dev/null
    time_of import-gpg+plain sh -c "gpg --batch --yes --quiet --pinentry-mode loopback --passphrase-file '$WORK/pass' --decrypt -o '$WORK/g3.bundle' '$WORK/g.bundle.gpg' && '$BIN' bundle import '$WORK/g3.bundle' --store '$WORK/dst-gpg' && rm '$WORK/g3.bundle'"
done
# The imported memory must be the captured one, bit for bit.
for kind in plain encrypted gpg; do
    IMG=$("$BIN" checkpoint ls "$S" --store "$WORK/dst-$kind" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["images"]["memory"])')
    "$BIN" image materialize "$IMG" "$WORK/out-$kind.img" --store "$WORK/dst-$kind" >/dev/null
    cmp "$WORK/mem.img" "$WORK/out-$kind.img" || { echo "bundle.sh: $kind import differs from the image" >&2; exit 1; }
    rm "$WORK/out-$kind.img"
done
python3 - "$WORK/times" "$(stat -c %s "$WORK/p.bundle")" "$(stat -c %s "$WORK/e.bundle")" "$(stat -c %s "$WORK/g.bundle.gpg")" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, seconds = line.split()
    rows.setdefault(label, []).append(float(seconds))
sizes = {"plain": int(sys.argv[2]), "encrypted": int(sys.argv[3]), "gpg": int(sys.argv[4])}
print(f"| step | plain bundle | encrypted bundle | ratio | plain + gpg | ratio |")
print(f"|---|---|---|---|---|---|")
for step, gpg in (("export", "export-plain+gpg"), ("verify", "verify-gpg+plain"), ("import", "import-gpg+plain")):
    plain, enc, g = (statistics.median(rows[k]) for k in (f"{step}-plain", f"{step}-encrypted", gpg))
    print(f"| {step} | {plain:.2f} s | {enc:.2f} s | {enc / plain:.2f}× | {g:.2f} s | {g / plain:.2f}× |")
print(f"| size | {sizes['plain'] / 2**20:.1f} MiB | {sizes['encrypted'] / 2**20:.1f} MiB | {sizes['encrypted'] / sizes['plain']:.4f}× | {sizes['gpg'] / 2**20:.1f} MiB | {sizes['gpg'] / sizes['plain']:.4f}× |")
print(f"(medians of {len(rows['export-plain'])} runs; imports checked bit for bit against the image)")
EOF
