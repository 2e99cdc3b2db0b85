#!/usr/bin/env bash
# Exec benchmark on a real microVM (TCG here, KVM where usable): the round trip of `true`
# (p50/p90, through the driver alone and through `stasis exec`'s path, which records the history)
# and the streaming throughput of 100 MiB of stdout (zeros, and random bytes). Targets (issue 14):
# p50 < 15 ms, >= 50 MiB/s. Release build into .build-release (debug with --debug).
#   Tools/bench/exec.sh [--debug] [--runs 200] [--mib 100] [--streams 3] [--memory 512]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
Tools/guest/build.sh --quiet >/dev/null
if [[ ${1:-} == --debug ]]; then
    shift
    swift build --product stasis-bench >/dev/null
    BIN=.build/debug
else
    swift build -c release --scratch-path .build-release --product stasis-bench >/dev/null
    BIN="$(swift build -c release --scratch-path .build-release --show-bin-path)"
fi
"$BIN/stasis-bench" exec "$@" | tee /dev/stderr | python3 Tools/bench/exec_report.py
