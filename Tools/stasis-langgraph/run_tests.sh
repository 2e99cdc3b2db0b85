#!/usr/bin/env bash
# Runs the stasis-langgraph tests against a real daemon, once per supported LangGraph version:
#   Tools/stasis-langgraph/run_tests.sh PATH/TO/stasis [pytest args...]
#
# Rows (requirements/ROW.txt, exact pins): "newest" (the newest LangGraph, with DeltaChannel)
# and "oldest" (the oldest supported, 1.0.x). Each row has its own virtualenv under
# ${XDG_CACHE_HOME:-~/.cache}/stasis-langgraph-venvs/ROW-pyX.Y (made with `$PYTHON -m venv`,
# PYTHON defaults to python3; the pins are installed again only when ROW.txt changed), in
# which the package is installed editable. Each row runs `mypy` on the package and then
# pytest with STASIS_BIN set to the binary; every test starts its own daemons on temporary
# stores and stops them again. The script fails if any row fails.
#
#   STASIS_LANGGRAPH_ROWS="newest"    run only these rows (default: "newest oldest")
#   STASIS_LANGGRAPH_VENVS=DIR        where the virtualenvs live
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 1 ]]; then
    echo "usage: $0 PATH/TO/stasis [pytest args...]" >&2
    exit 64
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
if [[ ! -x $bin ]]; then
    echo "$0: $bin is not an executable stasis binary (build it with: swift build --product stasis)" >&2
    exit 64
fi
python=${PYTHON:-python3}
venvs=${STASIS_LANGGRAPH_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/stasis-langgraph-venvs}
rows=${STASIS_LANGGRAPH_ROWS:-newest oldest}
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Makes (or reuses) ROW's virtualenv; prints its python.
prepare() {
    local row=$1 req=$here/requirements/$1.txt
    local venv=$venvs/$row-py$pyver
    if [[ ! -f $req ]]; then
        echo "$0: no such row '$row' (no $req)" >&2
        return 64
    fi
    # (set -e does not apply inside a function called from `if`: every step says || return 1)
    if [[ ! -x $venv/bin/python ]]; then
        mkdir -p "$venvs" || return 1
        "$python" -m venv "$venv" >&2 || return 1
    fi
    if ! cmp -s "$req" "$venv/.stasis-requirements"; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2 || return 1
        cp "$req" "$venv/.stasis-requirements" || return 1
    fi
    # editable install of this checkout (again if the venv points at another one)
    if ! (cd / && "$venv/bin/python" -c 'import os, sys, stasis_langgraph as m; sys.exit(os.path.dirname(m.__file__) != sys.argv[1])' \
            "$here/stasis_langgraph") 2>/dev/null; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$here" >&2 || return 1
    fi
    echo "$venv/bin/python"
}

failed=()
summary=()
for row in $rows; do
    echo "=== stasis-langgraph: row '$row' ($(grep -m1 '^langgraph==' "$here/requirements/$row.txt" 2>/dev/null || echo '?'))"
    if ! py=$(prepare "$row"); then
        failed+=("$row (setup)")
        continue
    fi
    start=$SECONDS
    status=ok
    if ! (cd "$here" && "$py" -m mypy --cache-dir "$(dirname "$(dirname "$py")")/.mypy_cache" stasis_langgraph); then
        status=failed
        failed+=("$row (mypy)")
    fi
    if ! (cd "$here" && STASIS_BIN=$bin "$py" -m pytest -p no:cacheprovider -ra "$@" tests); then
        status=failed
        failed+=("$row (pytest)")
    fi
    summary+=("$row: $status in $((SECONDS - start)) s")
done
echo "=== stasis-langgraph: $(printf '%s; ' "${summary[@]}")"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "$0: failed: ${failed[*]}" >&2
    exit 1
fi
