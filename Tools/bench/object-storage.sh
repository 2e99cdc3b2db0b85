#!/usr/bin/env bash
# Object storage throughput: put/get of 64 MiB and 8 parallel ranged GETs through the local
# SeaweedFS (Tools/services/start.sh), with the release build of StasisObjectStorage.
# Prints one line of MB/s. Usage: Tools/bench/object-storage.sh [--debug]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
config=(-c release -Xswiftc -enable-testing)
[[ "${1:-}" == "--debug" ]] && config=()
STASIS_SERVICES_ENV="$(Tools/services/start.sh --quiet)"
export STASIS_SERVICES_ENV
swift build "${config[@]}" --build-tests --scratch-path .build-bench >/dev/null
STASIS_OBJECT_STORAGE_BENCH=1 swift test "${config[@]}" --scratch-path .build-bench --skip-build \
    --filter ObjectStorageThroughput 2>&1 | grep -E "throughput|passed|failed|error"
