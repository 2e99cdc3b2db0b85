#!/usr/bin/env bash
# Network benchmark on real microVMs, through the `stasis` binary: boot to answering without and
# with a network card (--allow + --publish), resume to answering without and with (the network
# adds the guest's `stasis-net renew`), an HTTP fetch from the guest to a server on the host's
# loopback (busybox wget, per fetch), and a GET from the host to a published port (curl). Medians
# of --runs. Needs root and nft (for --allow) and a guest image with virtio_net
# (Tools/guest/build.sh; STASIS_GUEST_CACHE picks another cache). Release build into
# .build-release (debug with --debug).
#   Tools/bench/network.sh [--debug] [--runs 5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RUNS=5
BUILD=release
while (($#)); do
    case "$1" in
        --debug) BUILD=debug; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        *) echo "network.sh: unknown argument $1 (see the header)" >&2; exit 2 ;;
    esac
done
if [[ $BUILD == debug ]]; then
    swift build --product stasis >/dev/null
    STASIS=$PWD/.build/debug/stasis
else
    swift build -c release --scratch-path .build-release --product stasis >/dev/null
    STASIS="$(swift build -c release --scratch-path .build-release --show-bin-path)/stasis"
fi
WORK=$(mktemp -d /tmp/stasis-net-bench.XXXXXX)
export STASIS_STORE=$WORK/store
"$STASIS" init >/dev/null
mkdir -p "$WORK/www" && echo hello >"$WORK/www/f"
python3 -m http.server 0 --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
HTTP=$!
cleanup() {
    for s in $("$STASIS" sandbox ls --json | python3 -c 'import json,sys; print(" ".join(s["session"] for s in json.load(sys.stdin)["sandboxes"]))'); do
        "$STASIS" sandbox stop "$s" --discard >/dev/null 2>&1 || true
    done
    kill "$HTTP" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
PORT=""
for _ in $(seq 50); do
    PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/http.log" | head -1)
    [[ -n $PORT ]] && break
    sleep 0.1
done
[[ -n $PORT ]] || { echo "network.sh: the host's HTTP server did not start" >&2; exit 1; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
NET=(--allow "127.0.0.1:$PORT" --publish 8080)

for mode in plain network; do
    args=(); [[ $mode == network ]] && args=("${NET[@]}")
    boots=()
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s.%N)
        s=$("$STASIS" sandbox run --memory 256M --disk 64M "${args[@]}" 2>/dev/null)
        t1=$(date +%s.%N)
        boots+=("$(echo "$t1 - $t0" | bc)")
        "$STASIS" sandbox stop "$s" --discard >/dev/null
    done
    echo "boot to answering ($mode), s: median $(printf '%s\n' "${boots[@]}" | median) of ${boots[*]}"
    s=$("$STASIS" sandbox run --memory 256M --disk 64M "${args[@]}" 2>/dev/null)
    resumes=()
    for _ in $(seq "$RUNS"); do
        "$STASIS" sandbox pause "$s" >/dev/null 2>&1
        resumes+=("$("$STASIS" sandbox resume "$s" 2>&1 >/dev/null | sed -n 's/.*start to answering \([0-9.]*\) s.*/\1/p')")
    done
    echo "resume to answering ($mode), s: median $(printf '%s\n' "${resumes[@]}" | median) of ${resumes[*]}"
    if [[ $mode == network ]]; then
        fetches=()
        for _ in $(seq "$RUNS"); do
            real=$("$STASIS" exec "$s" --shell "time sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do wget -q -O /dev/null http://10.0.2.2:$PORT/f; done'" 2>&1 | sed -n 's/^real[^0-9]*0m \{0,1\}\([0-9.]*\)s.*/\1/p')
            fetches+=("$(echo "$real * 1000 / 20" | bc -l | xargs printf '%.1f')")
        done
        echo "guest → host HTTP fetch (busybox wget, process start included), ms: median $(printf '%s\n' "${fetches[@]}" | median) of ${fetches[*]}"
        "$STASIS" exec "$s" --shell 'mkdir -p /tmp/w && echo hi > /tmp/w/index.html && httpd -p 8080 -h /tmp/w' >/dev/null
        hostport=$("$STASIS" sandbox ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sandboxes"][0]["network"]["publish"][0]["hostPort"])')
        gets=()
        for _ in $(seq "$RUNS"); do gets+=("$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$hostport/index.html" | awk '{ printf "%.1f", $1 * 1000 }')"); done
        echo "host → guest GET on a published port (curl), ms: median $(printf '%s\n' "${gets[@]}" | median) of ${gets[*]}"
    fi
    "$STASIS" sandbox stop "$s" --discard >/dev/null
done
echo "build: $BUILD; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
