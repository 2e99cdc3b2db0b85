#!/usr/bin/env bash
# The timeline page in a real browser: Debian's headless Chromium driven by Selenium (through
# Debian's chromedriver) against pages exported by the real CLI from a real microVM session.
#   Tools/timeline/run_tests.sh [PATH/TO/stasis] [--screenshots]   (--screenshots rewrites
#   Tools/timeline/screenshots/*.png, which README.md shows)
# The venv lives in ${XDG_CACHE_HOME:-~/.cache}/stasis-timeline-venv and is made once.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${1:-$here/../../.build/debug/stasis}"
shift || true
venv="${STASIS_TIMELINE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stasis-timeline-venv}"
if [[ ! -x $venv/bin/python ]]; then python3 -m venv "$venv"; fi
if ! cmp -s "$here/requirements.txt" "$venv/.stasis-requirements"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/.stasis-requirements"
fi
if [[ ${1:-} == --screenshots ]]; then export STASIS_TIMELINE_SCREENSHOTS="$here/screenshots"; fi
STASIS_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" exec "$venv/bin/python" -m unittest discover -s "$here/tests" -v
