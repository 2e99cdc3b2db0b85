#!/usr/bin/env bash
# Compiles the guest agent's native half into DIR: stasis-agentd (the request loop) and
# stasis-exec (a link to it: RUN's relay for the shell agent's own loop). Static, so that it
# runs in the initramfs and in any template. Needs gcc and libc6-dev (Tools/setup.sh).
#   Tools/guest/agent/build.sh DIR
set -euo pipefail
out=${1:?usage: Tools/guest/agent/build.sh DIR}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
gcc -static -O2 -s -Wall -Wextra -o "$out/stasis-agentd" \
    "$here/stasis-agentd.c" "$here/stasis-exec.c" "$here/relay.c" "$here/terminal.c" "$here/shell.c" "$here/port.c" "$here/base64.c"
ln -sfn stasis-agentd "$out/stasis-exec"
