#!/usr/bin/env bash
# Runs every test: installs the packages they need, builds, runs `swift test` (Swift Testing
# and XCTest in one run), then the LangGraph checkpointer's Python suite against the real daemon
# (conformance, real StateGraphs, restarts, bad input, sandboxes). Fails if either fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
# Simulated hosts (network namespaces stasis-h1…3 on bridge stasis0) for the fleet tests, and
# SeaweedFS (S3) and PostgreSQL listening on the bridge, so that the hosts reach them over their
# veth addresses as real hosts would; all stopped on exit. The tests read the env file named by
# STASIS_SERVICES_ENV (its variables are exported too).
Tools/fleet/netns.sh up 3
STASIS_SERVICES_ENV="$(Tools/services/start.sh --quiet --address "$(Tools/fleet/netns.sh address)")"
export STASIS_SERVICES_ENV
trap 'Tools/services/stop.sh --quiet; Tools/fleet/netns.sh down' EXIT
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
# The LangGraph suite reaches fleet stores through the operator's variables (test_fleet.py on
# every row; every store a fleet store on the fleet row).
pg_url="$STASIS_TEST_PG_URL"
export PGPASSWORD="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).password or "")' "$pg_url")"
export AWS_ACCESS_KEY_ID="$STASIS_TEST_S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$STASIS_TEST_S3_SECRET_ACCESS_KEY"
export AWS_ENDPOINT_URL="$STASIS_TEST_S3_ENDPOINT" AWS_REGION="$STASIS_TEST_S3_REGION"
export STASIS_TEST_FLEET_CATALOG="$(python3 -c 'import sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); print(f"postgres://{u.username}@{u.hostname}:{u.port}{u.path}")' "$pg_url")"
export STASIS_TEST_FLEET_OBJECTS="s3://$STASIS_TEST_S3_BUCKET"
Tools/stasis-langgraph/run_tests.sh .build/debug/stasis || status=$?
# The conformance suite again against daemons whose stores are fleet stores (PostgreSQL catalog).
STASIS_TEST_STORES=fleet STASIS_LANGGRAPH_ROWS=newest Tools/stasis-langgraph/run_tests.sh .build/debug/stasis || status=$?
Tools/verifier/run_tests.sh .build/debug/stasis || status=$?
# The guest agent's request loop in C, on the host against a socketpair (no VM): framing, byte
# counts, stdin, deadlines, shell restarts, bad requests.
agent_bin="$(mktemp -d)"
Tools/guest/agent/build.sh "$agent_bin"
STASIS_AGENTD="$agent_bin/stasis-agentd" python3 -m unittest discover -s Tools/guest/agent/tests || status=$?
rm -rf "$agent_bin"
# The timeline page (history export --format html) in headless Chromium, on a real microVM session.
Tools/timeline/run_tests.sh .build/debug/stasis || status=$?
exit $status
