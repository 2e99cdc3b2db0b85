#!/usr/bin/env bash
# Timeline page benchmark: a synthetic session of 1,000,000 events (commands, output, tool calls,
# messages, notes; three checkpoints) made with the real CLI (`history append`, `checkpoint
# create`), exported with `history export --format html`, then measured in Debian's headless
# Chromium: first screen, all events read, a filter step, a scroll step, a search, and the page's
# own verification of every event and signature (Tools/bench/timeline_bench.py).
# Targets: first screen < 1 s, steps < 100 ms, search < 200 ms, verification < 10 s.
#   Tools/bench/timeline.sh [--events N] [--runs R] [--bin PATH/TO/stasis]
# Without --bin it uses the debug build (swift build --product stasis): the page's figures do
# not depend on how the CLI was built, only the export time printed first does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
EVENTS=1000000 RUNS=3 BIN=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --events) EVENTS="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "timeline.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done
Tools/setup.sh
if [[ -z $BIN ]]; then swift build --product stasis >/dev/null; BIN="$(swift build --show-bin-path)/stasis"; fi
venv="${STASIS_TIMELINE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stasis-timeline-venv}"
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r Tools/timeline/requirements.txt
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
export STASIS_STORE="$OUT/store"
"$BIN" init --no-encryption >/dev/null
S="$("$BIN" session new --label bench=timeline)"
head -c $((4 << 20)) /dev/urandom > "$OUT/mem"
third=$((EVENTS / 3))
for part in 0 1 2; do
    n=$(( part == 2 ? EVENTS - 2 * third - 3 : third ))     # three checkpoint events are appended by stasis
    python3 - "$n" "$((part * third))" <<'PY' | "$BIN" history append "$S" >/dev/null
import json, sys
n, base = int(sys.argv[1]), int(sys.argv[2])
t0 = 1_796_600_000_000_000_000
out = sys.stdout
for i in range(n):
    k = base + i
    t = t0 + k * 250_000_000 + (600_000_000_000 if k % 5000 == 0 else 0)
    m = k % 6
    if m == 0: e = {"kind": "command.started", "command": f"pytest tests/test_{k % 97}.py -k case{k}"}
    elif m == 1: e = {"kind": "output", "stream": "stdout", "data": f"collected {k % 50} items\ntests/test_{k % 97}.py ..F. [{k % 100}%]\n"}
    elif m == 2: e = {"kind": "command.exited", "code": k % 3, "duration_ms": k % 4000}
    elif m == 3: e = {"kind": "tool.call", "name": "read_file", "arguments": {"path": f"/work/src/mod{k % 1000}.py"}}
    elif m == 4: e = {"kind": "message", "role": "assistant", "content": f"step {k}: the failing case is case{k}"}
    else: e = {"kind": "note", "text": f"note {k}" + (" needle" if k % 100000 == 5 else "")}
    e["time"] = t
    out.write(json.dumps(e) + "\n")
PY
    "$BIN" checkpoint create "$S" --memory "$OUT/mem" >/dev/null
done
KEY="$("$BIN" key show)"
start=$(date +%s.%N)
"$BIN" history export "$S" --format html -o "$OUT/timeline.html" >&2
echo "export: $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s, $(du -h "$OUT/timeline.html" | cut -f1)" >&2
"$venv/bin/python" Tools/bench/timeline_bench.py "$OUT/timeline.html" --key "$KEY" --runs "$RUNS" --query needle

# The same page served by `stasis serve --http` (with a token), and the server's full-text search.
TOKEN="bench-$RANDOM$RANDOM"
STASIS_TOKEN="$TOKEN" "$BIN" serve --socket "$OUT/s.sock" --http 127.0.0.1:0 > "$OUT/serve.out" 2>&1 &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null; rm -rf "$OUT"' EXIT
for _ in $(seq 600); do grep -q 'listening http://' "$OUT/serve.out" && break; sleep 0.1; done
BASE="$(grep -o 'http://[0-9.:]*' "$OUT/serve.out" | head -1)"
[[ -n $BASE ]] || { cat "$OUT/serve.out" >&2; exit 1; }
start=$(date +%s.%N)
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/sessions/$S"
echo "served page, generated on request: $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s (once per run below, before the first screen)" >&2
start=$(date +%s.%N)
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/api/search?q=needle"
echo "server search (curl, cold): $(python3 -c "print(f'{($(date +%s.%N) - $start) * 1000:.0f}')") ms" >&2
"$venv/bin/python" Tools/bench/timeline_bench.py "$BASE/sessions/$S?token=$TOKEN" --key "$KEY" --runs "$RUNS" --query needle
