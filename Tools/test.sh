#!/usr/bin/env bash
# Runs every test: installs the packages they need, builds, runs `swift test` (Swift Testing
# and XCTest in one run), then the LangGraph checkpointer's Python suite against the real daemon
# (conformance, real StateGraphs, restarts, bad input, sandboxes). Fails if either fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
# SeaweedFS (S3) and PostgreSQL for the object storage and catalog tests, stopped on exit; the
# tests read the env file named by STASIS_SERVICES_ENV (its variables are exported too).
STASIS_SERVICES_ENV="$(Tools/services/start.sh --quiet)"
export STASIS_SERVICES_ENV
trap 'Tools/services/stop.sh --quiet' EXIT
set -a; source "$STASIS_SERVICES_ENV"; set +a
# The guest kernel and initramfs for the microVM tests (cached outside the repository).
Tools/guest/build.sh --quiet
swift build --build-tests
status=0
swift test --skip-build || status=$?
# The same suites again with every store a fleet store: its catalog in PostgreSQL (a schema per
# store), its objects in SeaweedFS (a prefix per store). Suites that never open a store run too
# (cheap), so nothing that touches the catalog or the object store can be missed.
STASIS_TEST_CATALOG=postgres swift test --skip-build || status=$?
Tools/stasis-langgraph/run_tests.sh .build/debug/stasis || status=$?
Tools/verifier/run_tests.sh .build/debug/stasis || status=$?
exit $status
