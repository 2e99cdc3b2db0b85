#!/usr/bin/env bash
# Stops what Tools/services/start.sh started from a state directory (SIGTERM, then SIGKILL after
# 10 s), removes SeaweedFS's gRPC sockets in /tmp and the env file. Data stays unless --purge.
# Usage: Tools/services/stop.sh [--state DIR] [--purge] [--quiet]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"
purge=0
quiet=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --state) state="$2"; shift 2 ;;
        --purge) purge=1; shift ;;
        --quiet) quiet=1; shift ;;
        -h|--help) sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) fail "unknown argument '$1' (see --help)" ;;
    esac
done
say() { [[ $quiet -eq 1 ]] || echo "services: $*" >&2; }
[[ -d "$state" ]] || { say "nothing to stop in $state"; exit 0; }
[[ -f "$state/port-base" ]] && set_ports "$(cat "$state/port-base")"

pidfile="$state/seaweedfs/pid"
if running "$pidfile"; then
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    say "SeaweedFS stopped"
fi
rm -f "$pidfile"
# SeaweedFS creates its gRPC Unix sockets at fixed paths named by port; remove ours.
for port in $S3_PORT $MASTER_PORT $VOLUME_PORT $FILER_PORT $ADMIN_PORT; do
    rm -f /tmp/seaweedfs-*-grpc-$((port + 10000)).sock /tmp/seaweedfs-*-$port.sock
done

pgdata="$state/postgres/data"
if [[ -f "$pgdata/postmaster.pid" ]]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgdata" -m fast -w -t 20 stop >/dev/null 2>&1 \
        || fail "pg_ctl stop failed for $pgdata; see $state/postgres/log/postgres.log"
    say "PostgreSQL stopped"
fi
rm -f "$state/env"
if [[ $purge -eq 1 ]]; then rm -rf "$state"; fi
