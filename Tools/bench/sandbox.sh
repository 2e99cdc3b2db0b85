#!/usr/bin/env bash
# MicroVM checkpoint/restore benchmark (real QEMU microvm; TCG here, KVM where usable):
# per guest size, downtime (stop → cont), time until the checkpoint is durable, bytes stored by a
# second checkpoint after the guest dirties ~5% of its memory, restore until the guest answers
# (cold, and patching a local ancestor), and cold boot for comparison. Medians over --runs.
#   Tools/bench/sandbox.sh [--memory 256,1024] [--runs 3] [--fill-percent 50] [--capture live,stopped] [--lazy]
# (--lazy: also a lazy restore and its time to full hydration; needs the stasis binary, built here)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
Tools/setup.sh
Tools/guest/build.sh --quiet
swift build -c release --product stasis-bench >/dev/null
swift build -c release --product stasis >/dev/null
BIN="$(swift build -c release --show-bin-path)"
"$BIN/stasis-bench" sandbox "$@" | tee /dev/stderr | python3 Tools/bench/sandbox_report.py
