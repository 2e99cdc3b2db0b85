#!/usr/bin/env bash
# image-store.sh: capture / incremental / restore / stored-size benchmark of Stasis against
# restic, borg (default and fixed 64 KiB chunker), casync, `lz4 -1` and `cp --sparse=always`,
# on two kinds of deterministic VM-memory images, each a base.img, its successor next.img and the
# sparse diff between them:
#   synthetic  stasis-bench gen-image: a hand-chosen page mix (zero / library copies / text / random)
#   real       Tools/bench/gen_real_image.py: this machine's own files (Python's standard library,
#              shared libraries, docs, man pages, binaries, locales) laid out page-aligned as a
#              guest's tmpfs and page cache hold them; next.img deletes, gzips and sorts some of them
# The synthetic mix is a guess; the real images check that the results hold on data nobody tuned.
#
#   Tools/bench/image-store.sh                 # 1 GiB images of both kinds, 5 runs
#   Tools/bench/image-store.sh --quick         # 64 MiB images of both kinds, 1 run (smoke test)
#   Tools/bench/image-store.sh --data real     # only the real-data images
#   Tools/bench/image-store.sh --memory-test   # also: peak RSS of `stasis image capture` on 4 GiB
#
# Warm page cache: nothing is dropped from the page cache; the images are read once before
# measuring. Every step is timed with /usr/bin/time (wall, user+sys CPU, max RSS).
# Durability: restic, borg and Stasis fsync their own stores. For casync, lz4 and cp the script
# adds the flush inside the timed command: `sync FILE` (fsync) for single-file outputs and
# `sync -f` (syncfs) for casync's chunk store. Every restore writes a fresh file which is then
# fsynced (`sync FILE`, except for Stasis, which fsyncs itself), compared with `cmp` against
# next.img and deleted. `--fsync-check` verifies with strace which tools fsync by themselves.
#
# Results go to WORK/results-<time>.jsonl (one JSON object per line, each with "data":
# "synthetic"|"real"); Tools/bench/report.py turns them into one markdown table per data kind and
# checks the team's targets on each. Per data kind the results also hold the "ideal" store size:
# `lz4 -1` of every distinct non-zero 4 KiB page of both images, in image order, as one stream.
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
usage: Tools/bench/image-store.sh [options]
  --size SIZE         image size (default 1G)
  --runs N            repetitions of every tool (default 5)
  --quick             64 MiB images, 1 run (smoke test)
  --data KIND         synthetic, real or both (default both): which images to measure on
  --roots LIST        comma-separated directories the real images are made from
                      (default: gen_real_image.py's: python3.*, shared libraries, docs, ...)
  --work DIR          work directory (default: <repo>/bench-data)
  --tools LIST        comma-separated subset of:
                      restic,borg,borg-fixed,casync,lz4,cp,stasis,stasis-nodirty,stasis-plain,stasis-lz4
                      (stasis-plain: a store made with --no-encryption; stasis-lz4: one made
                      with --compression lz4; default: all)
  --frac F            dirty fraction of next.img, both data kinds (default 0.05)
  --dense             write the images' zero pages as zeros (default: holes)
  --memory-test       also measure peak RSS of `stasis image capture` on a generated image
  --memory-size SIZE  size of that image (default 4G)
  --fsync-check       once per tool, run capture and restore under strace to see who fsyncs
  --no-build          do not run `swift build` (use existing binaries)
  --stasis PATH       stasis binary (default: from the release build)
  --bench PATH        stasis-bench binary (default: from the release build)
  --results FILE      results file (default: WORK/results-<time>.jsonl)
  --keep              keep stores and generated images after the run (default: delete;
                      results and logs stay in WORK)
  -h, --help          this help
EOF
}

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SIZE=1G
RUNS=5
WORK="$REPO_ROOT/bench-data"
ALL_TOOLS="restic,borg,borg-fixed,casync,lz4,cp,stasis,stasis-nodirty,stasis-plain,stasis-lz4"
TOOLS="$ALL_TOOLS"
FRAC=0.05
DENSE=0
MEMTEST=0
MEMSIZE=4G
FSYNC_CHECK=0
BUILD=1
STASIS=""
BENCH=""
RESULTS=""
KEEP=0
SIZE_SET=0
RUNS_SET=0
QUICK=0
DATA_KINDS=both
ROOTS=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) SIZE="$2"; SIZE_SET=1; shift 2 ;;
        --runs) RUNS="$2"; RUNS_SET=1; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --data) DATA_KINDS="$2"; shift 2 ;;
        --roots) ROOTS="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --tools) TOOLS="$2"; shift 2 ;;
        --frac) FRAC="$2"; shift 2 ;;
        --dense) DENSE=1; shift ;;
        --memory-test) MEMTEST=1; shift ;;
        --memory-size) MEMSIZE="$2"; shift 2 ;;
        --fsync-check) FSYNC_CHECK=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --stasis) STASIS="$2"; shift 2 ;;
        --bench) BENCH="$2"; shift 2 ;;
        --results) RESULTS="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $QUICK == 1 ]]; then
    [[ $SIZE_SET == 1 ]] || SIZE=64M
    [[ $RUNS_SET == 1 ]] || RUNS=1
fi
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a positive integer" >&2; exit 2; }
case $DATA_KINDS in
    synthetic|real) KIND_LIST=("$DATA_KINDS") ;;
    both) KIND_LIST=(synthetic real) ;;
    *) echo "--data must be synthetic, real or both" >&2; exit 2 ;;
esac
has_kind() { [[ " ${KIND_LIST[*]} " == *" $1 "* ]]; }
IFS=',' read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    [[ ",$ALL_TOOLS," == *",$t,"* ]] || { echo "unknown tool: $t (known: $ALL_TOOLS)" >&2; exit 2; }
done

say() { printf '%s\n' "$*" >&2; }
loud() { printf '\n!!!!!!!!!! %s !!!!!!!!!!\n\n' "$*" >&2; }
has_tool() { [[ ",$TOOLS," == *",$1,"* ]]; }

# ---------------------------------------------------------------------------------------------
# 1. Comparison tools (installed with apt-get only if missing).
# lz4 is needed whatever --tools says: it measures the ideal store size.
need_pkgs=()
if has_tool restic && ! command -v restic >/dev/null; then need_pkgs+=(restic); fi
if { has_tool borg || has_tool borg-fixed; } && ! command -v borg >/dev/null; then need_pkgs+=(borgbackup); fi
if has_tool casync && ! command -v casync >/dev/null; then need_pkgs+=(casync); fi
command -v lz4 >/dev/null || need_pkgs+=(lz4)
[[ -x /usr/bin/time ]] || need_pkgs+=(time)
command -v cmp >/dev/null || need_pkgs+=(diffutils)
if [[ $FSYNC_CHECK == 1 ]] && ! command -v strace >/dev/null; then need_pkgs+=(strace); fi
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
    say "installing: ${need_pkgs[*]}"
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# 2. Build (release) the stasis CLI and stasis-bench.
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
LOGS="$WORK/logs"   # build logs here; each data kind's logs in $LOGS/KIND (set in section 3)
LOG_ROOT="$LOGS"
DATA="$WORK/data"   # each data kind's images in $DATA/KIND (set in section 3)
STORES="$WORK/stores"
RESTORE="$WORK/restore"
mkdir -p "$LOGS" "$DATA" "$STORES" "$RESTORE"

# stasis-bench makes the synthetic images (and the memory test's); for real data it only adds
# `analyze` (the report's page facts), which the run can do without.
NEED_BENCH=0
if has_kind synthetic || [[ $MEMTEST == 1 ]]; then NEED_BENCH=1; fi
STASIS_SKIP_REASON=""
if [[ $BUILD == 1 ]]; then
    BIN_DIR="$(cd "$REPO_ROOT" && swift build -c release --show-bin-path 2>/dev/null)"
    if [[ -z "$BENCH" ]]; then
        say "building stasis-bench (release; log: $LOGS/build-stasis-bench.log)"
        if (cd "$REPO_ROOT" && swift build -c release --product stasis-bench) >"$LOGS/build-stasis-bench.log" 2>&1; then
            BENCH="$BIN_DIR/stasis-bench"
        elif [[ -x "$BIN_DIR/stasis-bench" ]]; then
            tail -n 10 "$LOGS/build-stasis-bench.log" >&2
            say "WARNING: stasis-bench does not build now; using the existing $BIN_DIR/stasis-bench"
            BENCH="$BIN_DIR/stasis-bench"
        elif [[ $NEED_BENCH == 1 ]]; then
            tail -n 20 "$LOGS/build-stasis-bench.log" >&2
            loud "stasis-bench does not build; pass --bench PATH to use another binary"
            exit 1
        else
            say "WARNING: stasis-bench does not build (see $LOGS/build-stasis-bench.log); real data only, no analyze"
            BENCH=""
        fi
    fi
    if [[ -z "$STASIS" ]] && { has_tool stasis || has_tool stasis-nodirty || has_tool stasis-plain || has_tool stasis-lz4 || [[ $MEMTEST == 1 ]]; }; then
        say "building stasis (release; log: $LOGS/build-stasis.log)"
        if (cd "$REPO_ROOT" && swift build -c release --product stasis) >"$LOGS/build-stasis.log" 2>&1; then
            STASIS="$BIN_DIR/stasis"
        else
            STASIS_SKIP_REASON="the stasis product does not build (see $LOGS/build-stasis.log)"
        fi
    fi
else
    BIN_DIR="$REPO_ROOT/.build/release"
    [[ -n "$BENCH" ]] || BENCH="$BIN_DIR/stasis-bench"
    [[ -n "$STASIS" ]] || STASIS="$BIN_DIR/stasis"
fi
if [[ ! -x "$BENCH" ]]; then
    [[ $NEED_BENCH == 0 ]] || { loud "stasis-bench not found at $BENCH"; exit 1; }
    say "NOTE: no stasis-bench at ${BENCH:-<none>}: the real images get no \`stasis-bench analyze\` page facts."
    BENCH=""
fi

# Stasis is usable only if its CLI has the commands this script drives.
if [[ -z "$STASIS_SKIP_REASON" ]]; then
    if [[ -z "$STASIS" || ! -x "$STASIS" ]]; then
        STASIS_SKIP_REASON="no stasis binary at ${STASIS:-<none>}"
    elif ! "$STASIS" init --help >/dev/null 2>&1 \
        || ! "$STASIS" image capture --help >/dev/null 2>&1 \
        || ! "$STASIS" image materialize --help >/dev/null 2>&1; then
        STASIS_SKIP_REASON="$STASIS lacks 'init' / 'image capture' / 'image materialize'"
    fi
fi
if [[ -n "$STASIS_SKIP_REASON" ]]; then
    if has_tool stasis || has_tool stasis-nodirty || has_tool stasis-plain || has_tool stasis-lz4 || [[ $MEMTEST == 1 ]]; then
        say ""
        say "NOTE: skipping Stasis: $STASIS_SKIP_REASON."
        say "      The other tools are measured; rerun when the stasis CLI exists."
        say ""
    fi
    new=()
    for t in "${TOOL_LIST[@]}"; do [[ $t == stasis* ]] || new+=("$t"); done
    TOOL_LIST=("${new[@]}")
    MEMTEST_SKIPPED=$MEMTEST
    MEMTEST=0
fi

# ---------------------------------------------------------------------------------------------
# Results and timing helpers.
[[ -n "$RESULTS" ]] || RESULTS="$WORK/results-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$RESULTS"
ln -sfn "$(basename "$RESULTS")" "$WORK/results-latest.jsonl" 2>/dev/null || true
FAILURES=0

# Every result line says which images it was measured on: "data" goes first into the object.
DATA_KIND=""
emit() { printf '{"data":"%s",%s\n' "$DATA_KIND" "${1#\{}" >>"$RESULTS"; }
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# timed TOOL STEP RUN FSYNC CMD...: runs CMD under /usr/bin/time, stdout to $LAST_OUT, stderr to
# $LAST_ERR, appends a result line. FSYNC says who makes the output durable: self|added|none.
timed() {
    local tool=$1 step=$2 run=$3 fsync=$4
    shift 4
    LAST_OUT="$LOGS/$tool.$step.$run.out"
    LAST_ERR="$LOGS/$tool.$step.$run.err"
    local tf="$LOGS/.time.$$" rc=0 t0 t1
    t0=$EPOCHREALTIME
    /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >"$LAST_OUT" 2>"$LAST_ERR" || rc=$?
    t1=$EPOCHREALTIME
    local wall user sys rss etime
    read -r etime user sys rss < <(tail -n 1 "$tf")
    rm -f "$tf"
    # Wall time from bash's microsecond clock (/usr/bin/time's %e has only 10 ms resolution).
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    local ok=true
    if [[ $rc != 0 ]]; then
        ok=false
        FAILURES=$((FAILURES + 1))
        loud "FAILED ($rc): $tool $step run $run: $*"
        tail -n 15 "$LAST_ERR" >&2 || true
    fi
    emit "{\"kind\":\"step\",\"run\":$run,\"tool\":\"$tool\",\"step\":\"$step\",\"wall\":$wall,\"time_e\":$etime,\"user\":$user,\"sys\":$sys,\"cpu\":$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }'),\"maxrss_kib\":$rss,\"rc\":$rc,\"ok\":$ok,\"fsync\":\"$fsync\"}"
    awk -v t="$tool" -v st="$step" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v f="$([[ $rc == 0 ]] || echo '  FAILED')" \
        'BEGIN { printf "  %-15s %-8s %7.2f s wall %7.2f s cpu %8.1f MiB max RSS%s\n", t, st, w, u + s, r / 1024, f }' >&2
    return $rc
}

# stored TOOL RUN DIR [EXTRA_JSON]: size of a store after both captures.
stored() {
    local tool=$1 run=$2 dir=$3 extra=${4:-null}
    local apparent allocated files
    apparent=$(du -sb "$dir" | cut -f1)
    allocated=$(du -s --block-size=1 "$dir" | cut -f1)
    files=$(find "$dir" -type f | wc -l)
    emit "{\"kind\":\"stored\",\"run\":$run,\"tool\":\"$tool\",\"apparent_bytes\":$apparent,\"allocated_bytes\":$allocated,\"files\":$files,\"extra\":$extra}"
    awk -v t="$tool" -v a="$apparent" -v d="$allocated" -v n="$files" \
        'BEGIN { printf "  %-15s stored   %7.1f MiB (du -sb), %.1f MiB on disk, %d files\n", t, a / 1048576, d / 1048576, n }' >&2
}

# check_restore TOOL RUN FILE: bit-exact comparison with next.img, then delete.
check_restore() {
    local tool=$1 run=$2 file=$3 ok=true
    if [[ -z "$file" || ! -f "$file" ]]; then
        ok=false
        loud "RESTORE OUTPUT MISSING: $tool run $run (expected ${file:-a file named next.img})"
    elif ! cmp -s "$DATA/next.img" "$file"; then
        ok=false
        loud "RESTORE MISMATCH: $tool run $run: $file differs from $DATA/next.img"
        cmp "$DATA/next.img" "$file" 2>&1 | head -n 2 >&2 || true
    fi
    [[ $ok == true ]] || FAILURES=$((FAILURES + 1))
    emit "{\"kind\":\"verify\",\"run\":$run,\"tool\":\"$tool\",\"bit_exact\":$ok}"
    rm -rf "$RESTORE/$tool"
}

# last_json FILE: the last JSON object in FILE (pretty-printed or one per line), compacted; or null.
last_json() {
    python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1], errors="replace").read()
dec, found, i = json.JSONDecoder(), None, 0
while True:
    i = text.find("{", i)
    if i < 0:
        break
    try:
        obj, end = dec.raw_decode(text, i)
        found, i = obj, end
    except ValueError:
        i += 1
print(json.dumps(found, separators=(",", ":")))
PY
}

json_field() {  # json_field FIELD FILE: FIELD of the last JSON object in FILE (empty if none)
    last_json "$2" | python3 -c 'import json,sys; d=json.load(sys.stdin); v=d.get(sys.argv[1]) if isinstance(d, dict) else None; print("" if v is None else v)' "$1"
}

# ---------------------------------------------------------------------------------------------
# 3. Data: make_data KIND writes base.img, next.img and next.diff of that kind into $DATA, then
#    the data, ideal and meta lines of the results.
GEN_FLAGS=()
[[ $DENSE == 1 ]] && GEN_FLAGS+=(--dense)
ROOT_FLAGS=()
[[ -n "$ROOTS" ]] && ROOT_FLAGS+=(--roots "$ROOTS")
GEN_REAL="$REPO_ROOT/Tools/bench/gen_real_image.py"
DATA_ROOT="$DATA"

gen_step() {  # gen_step NAME CMD...: the generators print their stats as the last JSON line
    local name=$1 tf="$LOGS/.time.$$" rc=0
    shift
    /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >"$LOGS/gen-$name.out" 2>&1 || rc=$?
    if [[ $rc != 0 ]]; then
        tail -n 15 "$LOGS/gen-$name.out" >&2
        loud "generating $DATA_KIND $name failed ($rc): $*"
        exit 1
    fi
    local wall user sys rss
    read -r wall user sys rss < <(tail -n 1 "$tf")
    rm -f "$tf"
    emit "{\"kind\":\"gen\",\"step\":\"$name\",\"wall\":$wall,\"user\":$user,\"sys\":$sys,\"maxrss_kib\":$rss,\"stats\":$(last_json "$LOGS/gen-$name.out")}"
    say "  gen $name: $wall s wall ($user user, $sys sys)"
}

versions=$(python3 - "$(restic version 2>/dev/null | head -1)" "$(borg --version 2>/dev/null)" \
    "$(casync --version 2>/dev/null | head -1)" "$(lz4 --version 2>/dev/null | head -1)" \
    "$(cp --version | head -1)" "${STASIS_SKIP_REASON:-available}" <<'PY'
import json, sys
print(json.dumps(dict(zip(["restic", "borg", "casync", "lz4", "cp", "stasis"], sys.argv[1:]))))
PY
)

make_data() {
    local kind=$1
    say "generating $kind data in $DATA (size $SIZE, frac $FRAC$([[ $DENSE == 1 ]] && echo ', dense'))"
    rm -f "$DATA/base.img" "$DATA/base.img.layout.json" "$DATA/next.img" "$DATA/next.diff"
    if [[ $kind == synthetic ]]; then
        gen_step base "$BENCH" gen-image base "$DATA/base.img" --size "$SIZE" --seed 1 "${GEN_FLAGS[@]}"
        gen_step next "$BENCH" gen-image next "$DATA/base.img" "$DATA/next.img" --frac "$FRAC" --seed 2 \
            --diff "$DATA/next.diff" "${GEN_FLAGS[@]}"
    else
        gen_step base python3 "$GEN_REAL" base "$DATA/base.img" --size "$SIZE" --seed 1 \
            "${ROOT_FLAGS[@]}" "${GEN_FLAGS[@]}"
        gen_step next python3 "$GEN_REAL" next "$DATA/base.img" "$DATA/next.img" --frac "$FRAC" --seed 2 \
            --diff "$DATA/next.diff" "${GEN_FLAGS[@]}"
    fi
    local abase=null anext=null
    if [[ -n "$BENCH" ]]; then
        "$BENCH" analyze "$DATA/base.img" "$DATA/next.img" >"$LOGS/analyze.out"
        abase=$(sed -n 1p "$LOGS/analyze.out")
        anext=$(sed -n 2p "$LOGS/analyze.out")
    fi
    emit "{\"kind\":\"data\",\"size\":$(jstr "$SIZE"),\"frac\":$FRAC,\"dense\":$([[ $DENSE == 1 ]] && echo true || echo false),\"base\":$abase,\"next\":$anext}"

    # The ideal store: perfect 4 KiB dedup across both images, then `lz4 -1` of what is left as
    # one stream (no per-chunk framing or index): what a page store with LZ4 is judged against.
    # Not a floor for every tool: restic compresses with zstd and can store less.
    python3 "$GEN_REAL" distinct "$DATA/base.img" "$DATA/next.img" --out "$DATA/distinct.pages" \
        2>"$LOGS/distinct.out" || { tail -n 15 "$LOGS/distinct.out" >&2; loud "distinct pages failed"; exit 1; }
    local lz
    lz=$(lz4 -1 -q -c "$DATA/distinct.pages" | wc -c)
    rm -f "$DATA/distinct.pages"
    emit "{\"kind\":\"ideal\",\"lz4_bytes\":$lz,\"distinct\":$(last_json "$LOGS/distinct.out")}"
    say "  ideal store: $(awk -v b="$lz" 'BEGIN { printf "%.1f", b / 1048576 }') MiB (distinct non-zero pages of both, lz4 -1)"

    sync  # flush the generated data now, so that no timed step pays for it
    cat "$DATA/base.img" "$DATA/next.img" "$DATA/next.diff" >/dev/null  # warm the page cache
    emit "{\"kind\":\"meta\",\"date\":\"$(date -Is)\",\"host\":$(jstr "$(uname -srm)"),\"cpus\":$(nproc),\"size\":$(jstr "$SIZE"),\"runs\":$RUNS,\"tools\":$(jstr "${TOOL_LIST[*]}"),\"versions\":$versions,\"stasis_skipped\":$(jstr "$STASIS_SKIP_REASON")}"
}

# ---------------------------------------------------------------------------------------------
# 4. Tools. Each does: init (untimed), full capture of base.img, incremental capture of
#    next.img, restore of next.img into a fresh path, stored size.
export RESTIC_PASSWORD=stasis-bench
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES

run_tool() {
    local tool=$1 run=$2
    local S="$STORES/$tool" O="$RESTORE/$tool"
    rm -rf "$S" "$O"
    mkdir -p "$S" "$O"
    local out=""
    case $tool in
    restic)
        local C="$WORK/cache/restic"
        rm -rf "$C"
        restic -r "$S/repo" --cache-dir "$C" init -q >/dev/null
        timed restic full "$run" self bash -c 'cd "$1" && restic -r "$2" --cache-dir "$3" --host bench backup -q base.img' _ "$DATA" "$S/repo" "$C" || return 0
        timed restic incr "$run" self bash -c 'cd "$1" && restic -r "$2" --cache-dir "$3" --host bench backup -q next.img' _ "$DATA" "$S/repo" "$C" || return 0
        timed restic restore "$run" added bash -c 'restic -r "$1" --cache-dir "$2" restore latest --target "$3" -q && f=$(find "$3" -type f -name next.img) && sync "$f"' _ "$S/repo" "$C" "$O" || true
        out=$(find "$O" -type f -name next.img | head -n 1)
        stored restic "$run" "$S"
        rm -rf "$C"
        ;;
    borg|borg-fixed)
        local chunker=()
        [[ $tool == borg-fixed ]] && chunker=(--chunker-params fixed,65536)
        export BORG_BASE_DIR="$WORK/home/$tool"
        rm -rf "$BORG_BASE_DIR"
        borg init -e none "$S/repo" >/dev/null 2>&1
        timed "$tool" full "$run" self bash -c 'cd "$1" && shift && borg create --compression lz4 "$@" base.img' _ "$DATA" "${chunker[@]}" "$S/repo::base" || return 0
        timed "$tool" incr "$run" self bash -c 'cd "$1" && shift && borg create --compression lz4 "$@" next.img' _ "$DATA" "${chunker[@]}" "$S/repo::next" || return 0
        timed "$tool" restore "$run" added bash -c 'cd "$1" && borg extract "$2" && sync next.img' _ "$O" "$S/repo::next" || true
        out="$O/next.img"
        stored "$tool" "$run" "$S"
        rm -rf "$BORG_BASE_DIR"
        ;;
    casync)
        mkdir -p "$S/store"
        timed casync full "$run" added bash -c 'casync make --store="$1/store" "$1/base.caibx" "$2/base.img" && sync -f "$1/store"' _ "$S" "$DATA" || return 0
        timed casync incr "$run" added bash -c 'casync make --store="$1/store" "$1/next.caibx" "$2/next.img" && sync -f "$1/store"' _ "$S" "$DATA" || return 0
        timed casync restore "$run" added bash -c 'casync extract --store="$1/store" "$1/next.caibx" "$2/next.img" && sync "$2/next.img"' _ "$S" "$O" || true
        out="$O/next.img"
        stored casync "$run" "$S"
        ;;
    lz4)
        timed lz4 full "$run" added bash -c 'lz4 -1 -q -f "$1/base.img" "$2/base.img.lz4" && sync "$2/base.img.lz4"' _ "$DATA" "$S" || return 0
        timed lz4 incr "$run" added bash -c 'lz4 -1 -q -f "$1/next.img" "$2/next.img.lz4" && sync "$2/next.img.lz4"' _ "$DATA" "$S" || return 0
        timed lz4 restore "$run" added bash -c 'lz4 -d -q -f "$1/next.img.lz4" "$2/next.img" && sync "$2/next.img"' _ "$S" "$O" || true
        out="$O/next.img"
        stored lz4 "$run" "$S"
        ;;
    cp)
        timed cp full "$run" added bash -c 'cp --sparse=always "$1/base.img" "$2/base.img" && sync "$2/base.img"' _ "$DATA" "$S" || return 0
        timed cp incr "$run" added bash -c 'cp --sparse=always "$1/next.img" "$2/next.img" && sync "$2/next.img"' _ "$DATA" "$S" || return 0
        timed cp restore "$run" added bash -c 'cp --sparse=always "$1/next.img" "$2/next.img" && sync "$2/next.img"' _ "$S" "$O" || true
        out="$O/next.img"
        stored cp "$run" "$S"
        ;;
    stasis|stasis-nodirty|stasis-plain|stasis-lz4)
        local plain=()
        [[ $tool == stasis-plain ]] && plain=(--no-encryption)
        [[ $tool == stasis-lz4 ]] && plain=(--compression lz4)
        "$STASIS" init --store "$S/store" "${plain[@]}" >"$LOGS/$tool.init.$run.out" 2>&1 || {
            FAILURES=$((FAILURES + 1)); loud "stasis init failed (see $LOGS/$tool.init.$run.out)"; return 0; }
        timed "$tool" full "$run" self "$STASIS" image capture "$DATA/base.img" --store "$S/store" --json || return 0
        local id1 id2
        id1=$(json_field id "$LAST_OUT")
        [[ "$id1" =~ ^[0-9a-f]{64}$ ]] || { FAILURES=$((FAILURES + 1)); loud "$tool: no image id in the capture output ($LAST_OUT)"; return 0; }
        if [[ $tool != stasis-nodirty ]]; then
            timed "$tool" incr "$run" self "$STASIS" image capture "$DATA/next.img" --store "$S/store" \
                --parent "$id1" --dirty "$DATA/next.diff" --json || return 0
        else
            timed "$tool" incr "$run" self "$STASIS" image capture "$DATA/next.img" --store "$S/store" \
                --parent "$id1" --json || return 0
        fi
        id2=$(json_field id "$LAST_OUT")
        [[ "$id2" =~ ^[0-9a-f]{64}$ ]] || { FAILURES=$((FAILURES + 1)); loud "$tool: no image id in the incremental output ($LAST_OUT)"; return 0; }
        timed "$tool" restore "$run" self "$STASIS" image materialize "$id2" "$O/next.img" --store "$S/store" || true
        out="$O/next.img"
        "$STASIS" stats --store "$S/store" --json >"$LOGS/$tool.stats.$run.out" 2>&1 || true
        stored "$tool" "$run" "$S" "$(last_json "$LOGS/$tool.stats.$run.out")"
        ;;
    esac
    check_restore "$tool" "$run" "$out"
    [[ $KEEP == 1 ]] || rm -rf "$S"
}

# One data kind after the other; the images of a kind are deleted once it is measured (unless
# --keep), except the last kind's, which the fsync check below still reads.
for DATA_KIND in "${KIND_LIST[@]}"; do
    DATA="$DATA_ROOT/$DATA_KIND"
    LOGS="$LOG_ROOT/$DATA_KIND"
    mkdir -p "$DATA" "$LOGS"
    make_data "$DATA_KIND"
    for ((run = 1; run <= RUNS; run++)); do
        say "$DATA_KIND data: run $run/$RUNS"
        for tool in "${TOOL_LIST[@]}"; do
            run_tool "$tool" "$run"
        done
    done
    [[ $KEEP == 1 || $DATA_KIND == "${KIND_LIST[-1]}" ]] || rm -rf "$DATA"
done

# ---------------------------------------------------------------------------------------------
# 5. Optional: who fsyncs by themselves (strace; untimed extra capture + restore per tool).
# It runs on the last data kind's images (still in $DATA): who fsyncs does not depend on the data.
if [[ $FSYNC_CHECK == 1 ]]; then
    say "fsync check (strace, on the $DATA_KIND images)"
    fsync_trace() {  # fsync_trace TOOL STEP TARGET CMD...: which files did CMD fsync?
        local tool=$1 step=$2 target=$3
        shift 3
        local tr="$LOGS/strace.$tool.$step"
        strace -f -y -qq -e trace=fsync,fdatasync,syncfs,sync,sync_file_range,msync -o "$tr" "$@" >"$tr.out" 2>&1 || true
        python3 - "$tool" "$step" "$target" "$tr" "$DATA_KIND" >>"$RESULTS" <<'PY'
import json, re, sys
tool, step, target, path, data = sys.argv[1:]
calls, files, fs = 0, set(), False
for line in open(path, errors="replace"):
    m = re.search(r"\b(fsync|fdatasync|syncfs|sync|sync_file_range|msync)\((\d+)?<?([^>,)]*)", line)
    if not m:
        continue
    calls += 1
    if m.group(1) in ("syncfs", "sync"):
        fs = True
    if m.group(3):
        files.add(m.group(3))
hit = fs or any(f == target or f.startswith(target.rstrip("/") + "/") for f in files)
print(json.dumps({"data": data, "kind": "fsync_check", "tool": tool, "step": step, "calls": calls,
                  "syncs_output": hit, "files": sorted(files)[:20]}))
PY
        say "  $tool $step: $(tail -n 1 "$RESULTS" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["calls"], "sync calls; output durable by itself:", d["syncs_output"])')"
    }
    for tool in "${TOOL_LIST[@]}"; do
        S="$STORES/fsync-$tool"; O="$RESTORE/fsync-$tool"
        rm -rf "$S" "$O"; mkdir -p "$S" "$O"
        case $tool in
        restic)
            restic -r "$S/repo" --cache-dir "$S/cache" init -q >/dev/null
            fsync_trace restic capture "$S/repo" bash -c 'cd "$1" && restic -r "$2" --cache-dir "$3" --host bench backup -q next.img' _ "$DATA" "$S/repo" "$S/cache"
            fsync_trace restic restore "$O" restic -r "$S/repo" --cache-dir "$S/cache" restore latest --target "$O" -q ;;
        borg|borg-fixed)
            export BORG_BASE_DIR="$S/home"
            borg init -e none "$S/repo" >/dev/null 2>&1
            fsync_trace "$tool" capture "$S/repo" bash -c 'cd "$1" && borg create --compression lz4 "$2" next.img' _ "$DATA" "$S/repo::next"
            fsync_trace "$tool" restore "$O" bash -c 'cd "$1" && borg extract "$2"' _ "$O" "$S/repo::next" ;;
        casync)
            mkdir -p "$S/store"
            fsync_trace casync capture "$S" casync make --store="$S/store" "$S/next.caibx" "$DATA/next.img"
            fsync_trace casync restore "$O" casync extract --store="$S/store" "$S/next.caibx" "$O/next.img" ;;
        lz4)
            fsync_trace lz4 capture "$S" lz4 -1 -q -f "$DATA/next.img" "$S/next.img.lz4"
            fsync_trace lz4 restore "$O" lz4 -d -q -f "$S/next.img.lz4" "$O/next.img" ;;
        cp)
            fsync_trace cp capture "$S" cp --sparse=always "$DATA/next.img" "$S/next.img"
            fsync_trace cp restore "$O" cp --sparse=always "$S/next.img" "$O/next.img" ;;
        stasis|stasis-nodirty|stasis-plain|stasis-lz4)
            "$STASIS" init --store "$S/store" $([[ $tool == stasis-plain ]] && echo --no-encryption) \
                $([[ $tool == stasis-lz4 ]] && echo --compression lz4) >/dev/null 2>&1 || true
            fsync_trace "$tool" capture "$S/store" "$STASIS" image capture "$DATA/next.img" --store "$S/store" --json
            id=$(json_field id "$LOGS/strace.$tool.capture.out")
            if [[ -n "$id" ]]; then
                fsync_trace "$tool" restore "$O" "$STASIS" image materialize "$id" "$O/next.img" --store "$S/store"
            fi ;;
        esac
        rm -rf "$S" "$O"
    done
fi

# ---------------------------------------------------------------------------------------------
# 6. Optional: peak memory of `stasis image capture` on a large image.
if [[ $MEMTEST == 1 ]]; then
    DATA_KIND=synthetic  # stasis-bench gen-image makes its image
    LOGS="$LOG_ROOT"
    say "memory test: stasis image capture of a $MEMSIZE image"
    M="$WORK/mem"
    rm -rf "$M"; mkdir -p "$M"
    "$BENCH" gen-image base "$M/mem.img" --size "$MEMSIZE" --seed 3 "${GEN_FLAGS[@]}" >"$LOGS/gen-mem.out"
    sync
    cat "$M/mem.img" >/dev/null
    if "$STASIS" init --store "$M/store" >"$LOGS/mem.init.out" 2>&1; then
        if timed stasis memory 1 self "$STASIS" image capture "$M/mem.img" --store "$M/store" --json; then
            emit "{\"kind\":\"memory\",\"tool\":\"stasis\",\"size\":$(jstr "$MEMSIZE"),\"maxrss_kib\":$(tail -n 1 "$RESULTS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["maxrss_kib"])')}"
        fi
    else
        FAILURES=$((FAILURES + 1)); loud "stasis init failed for the memory test"
    fi
    rm -rf "$M"
elif [[ ${MEMTEST_SKIPPED:-0} == 1 ]]; then
    say "memory test skipped: $STASIS_SKIP_REASON"
fi

[[ $KEEP == 1 ]] || rm -rf "$STORES" "$RESTORE" "$WORK/cache" "$WORK/home" "$DATA_ROOT"

# ---------------------------------------------------------------------------------------------
say ""
say "results: $RESULTS"
python3 "$REPO_ROOT/Tools/bench/report.py" "$RESULTS" || true  # exits 1 on a restore mismatch, reported below
if [[ $FAILURES -gt 0 ]]; then
    loud "$FAILURES FAILURE(S): see above and $LOG_ROOT"
    exit 1
fi
