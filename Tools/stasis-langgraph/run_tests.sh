#!/usr/bin/env bash
# Runs the stasis-langgraph tests against a real daemon:
#   Tools/stasis-langgraph/run_tests.sh PATH/TO/stasis [pytest args...]
# Installs the pinned test dependencies and the package (editable) into the current Python
# (set PYTHON to choose one), then runs pytest with STASIS_BIN set to the binary. Each run
# starts its own daemons on temporary stores and stops them again.
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
"$python" -m pip install --quiet --disable-pip-version-check \
    "grpcio==1.85.3" "protobuf==7.36.2" "ormsgpack==1.13.1" \
    "langgraph==1.0.10" "langgraph-checkpoint==4.3.2" "langgraph-checkpoint-conformance==0.0.2" \
    "pytest==9.0.3"
"$python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$here"
cd "$here"
STASIS_BIN=$bin exec "$python" -m pytest -p no:cacheprovider -ra "$@" tests
