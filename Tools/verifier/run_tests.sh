#!/usr/bin/env bash
# Tests the standalone bundle verifier against real bundles made by a stasis binary:
#   Tools/verifier/run_tests.sh PATH/TO/stasis
#
# Makes (or reuses) a virtualenv with the verifier's dependency — `cryptography` for Ed25519 — and
# `rfc8785`, an off-the-shelf JCS library that the tests hold stored records and events against,
# under STASIS_VERIFIER_VENV (default
# /var/cache/stasis/verifier-venv, else ~/.cache/stasis-verifier-venv when that is not writable),
# and runs the unit tests (a real store, bundles and proofs in a temporary directory; under 10 s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -ne 1 ]]; then
    echo "usage: $0 PATH/TO/stasis" >&2
    exit 64
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if [[ ! -x $bin ]]; then
    echo "$0: $bin is not an executable stasis binary (build it with: swift build --product stasis)" >&2
    exit 64
fi
venv=${STASIS_VERIFIER_VENV:-}
if [[ -z $venv ]]; then
    venv=/var/cache/stasis/verifier-venv
    mkdir -p "$(dirname "$venv")" 2>/dev/null && [[ -w $(dirname "$venv") ]] || venv=${XDG_CACHE_HOME:-$HOME/.cache}/stasis-verifier-venv
fi
if ! "$venv/bin/python" -c 'import cryptography, rfc8785' 2>/dev/null; then
    echo "verifier: creating $venv" >&2
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check cryptography rfc8785
fi
cd "$here"
STASIS_BIN=$bin "$venv/bin/python" -m unittest test_stasis_verify
