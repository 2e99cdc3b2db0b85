#!/usr/bin/env bash
# Installs what building and testing Stasis needs on Debian 12, if missing:
# the C libraries Stasis links (liblz4, libzstd, SQLite) and the tools the tests use.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
# chromium + chromium-driver: the timeline page's tests drive Debian's headless Chromium
# (Tools/timeline/run_tests.sh; Selenium itself comes from PyPI into a venv there).
# gcc + libc6-dev: the guest agent's request loop in C (Tools/guest/agent/*.c) is compiled static.
# nftables: the kernel enforces a sandbox's --allow list with nft rules on its QEMU's user.
packages=(liblz4-dev libzstd-dev libssl-dev libsqlite3-dev libext2fs-dev e2fsprogs pkg-config util-linux openssl chromium chromium-driver gcc libc6-dev nftables)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# asciinema (PyPI) plays back `stasis history export --format asciicast` in the tests.
command -v asciinema >/dev/null || python3 -m pip install -q --disable-pip-version-check asciinema==2.4.0 >/dev/null 2>&1 \
    || echo "warning: could not install asciinema; the asciicast playback test will be skipped" >&2
command -v swift >/dev/null || { echo "error: swift is not on PATH (Swift 6.1 or newer is needed)" >&2; exit 1; }
