#!/usr/bin/env bash
# Runs every test: installs the packages they need, builds, and runs `swift test`
# (Swift Testing and XCTest in one run). Exit status is swift test's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
Tools/setup.sh
# The guest kernel and initramfs for the microVM tests (cached outside the repository).
Tools/guest/build.sh --quiet
swift build --build-tests
swift test --skip-build
