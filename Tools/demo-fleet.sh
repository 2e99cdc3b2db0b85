#!/usr/bin/env bash
# Many hosts, one store, on this machine:
#  1. starts PostgreSQL and SeaweedFS (S3) on a bridge, and two simulated hosts — network
#     namespaces stasis-h1 and stasis-h2, each with a store directory of its own;
#  2. host 1 creates a fleet store (catalog in PostgreSQL, objects in the bucket), boots a
#     microVM sandbox, gives it state (a file on its disk, a value in its memory), pauses it;
#  3. host 1's directory is deleted; host 2 joins the store with a copy of its key, resumes the
#     sandbox and shows the state came back; the session's history verifies on host 2;
#  4. prints what moved: the objects in the bucket, what host 2 fetched into its cache.
# Everything it started is stopped at the end. Needs root (namespaces) and QEMU.
#
#   Tools/demo-fleet.sh [--work DIR] [--memory 256M]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK=""
MEMORY=256M
while (($#)); do
    case "$1" in
        --work) WORK="$2"; shift 2 ;;
        --memory) MEMORY="$2"; shift 2 ;;
        -h|--help) sed -n 2,12p "$0"; exit 0 ;;
        *) echo "unknown option $1 (try --help)" >&2; exit 64 ;;
    esac
done
Tools/setup.sh
Tools/guest/build.sh --quiet
echo "== building"
swift build --product stasis >/dev/null
STASIS="$(swift build --show-bin-path)/stasis"
WORK="${WORK:-$(mktemp -d /tmp/stasis-fleet-demo.XXXXXX)}"
mkdir -p "$WORK"

echo "== two hosts (network namespaces) and the shared services on their bridge"
# Leave the namespaces in place afterwards if they were there before (Tools/test.sh's).
HAD_NAMESPACES=0
ip link show stasis0 >/dev/null 2>&1 && HAD_NAMESPACES=1
Tools/fleet/netns.sh up 2
export STASIS_SERVICES_DIR="$WORK/services"
ENV_FILE="$(Tools/services/start.sh --quiet --address "$(Tools/fleet/netns.sh address)" --port-base 19000)"
cleanup() {
    ip netns exec stasis-h2 "$STASIS" sandbox stop "${SESSION:-none}" --discard --store "$WORK/host2" >/dev/null 2>&1 || true
    ip netns exec stasis-h1 "$STASIS" sandbox stop "${SESSION:-none}" --discard --store "$WORK/host1" >/dev/null 2>&1 || true
    Tools/services/stop.sh --quiet || true
    [[ $HAD_NAMESPACES == 1 ]] || Tools/fleet/netns.sh down || true
}
trap cleanup EXIT
set -a; source "$ENV_FILE"; set +a
# What an operator exports on every host: the services' credentials, never on a command line.
export PGPASSWORD="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).password)' "$STASIS_TEST_PG_URL")"
export AWS_ACCESS_KEY_ID="$STASIS_TEST_S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$STASIS_TEST_S3_SECRET_ACCESS_KEY"
export AWS_ENDPOINT_URL="$STASIS_TEST_S3_ENDPOINT" AWS_REGION="$STASIS_TEST_S3_REGION"
CATALOG="$(python3 -c 'import sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); print(f"postgres://{u.username}@{u.hostname}:{u.port}{u.path}?schema=demo")' "$STASIS_TEST_PG_URL")"
OBJECTS="s3://$STASIS_TEST_S3_BUCKET/demo-$(date +%s)"
host1() { ip netns exec stasis-h1 "$STASIS" "$@" --store "$WORK/host1"; }
host2() { ip netns exec stasis-h2 "$STASIS" "$@" --store "$WORK/host2"; }
psql "$(python3 -c 'import sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); print(f"postgresql://{u.username}@{u.hostname}:{u.port}{u.path}")' "$STASIS_TEST_PG_URL")" \
    -X -q -c "DROP SCHEMA IF EXISTS demo CASCADE" >/dev/null

echo
echo "== host 1 (stasis-h1): create the fleet store, run a sandbox, pause it"
host1 init --catalog "$CATALOG" --objects "$OBJECTS"
SESSION="$(host1 sandbox run --memory "$MEMORY" --disk 256M)"
echo "session $SESSION"
host1 exec "$SESSION" --shell 'echo "written on host 1 at $(date -u +%T)" > /root/note; echo 1764 > /tmp/answer; sync; cat /root/note'
host1 sandbox pause "$SESSION"
cp "$WORK/host1/keys/store.ed25519" "$WORK/store-key"
cp "$WORK/host1/keys/master.key" "$WORK/master.key"
rm -rf "$WORK/host1"
echo "host 1's directory is gone: nothing can come from it"

echo
echo "== host 2 (stasis-h2): join with the key, resume the sandbox"
host2 init --catalog "$CATALOG" --objects "$OBJECTS" --key "$WORK/store-key" --master-key "$WORK/master.key"
host2 sandbox ls
START=$(date +%s.%N)
host2 sandbox resume "$SESSION"
host2 exec "$SESSION" --shell 'cat /root/note; echo "answer in memory: $(cat /tmp/answer)"; uptime'
END=$(date +%s.%N)
host2 exec "$SESSION" --shell 'echo "and host 2 carries on" >> /root/note'
host2 sandbox pause "$SESSION"
host2 history verify "$SESSION"
host2 history show "$SESSION" --last 6

echo
echo "== what moved"
python3 - "$START" "$END" "$WORK/host2" <<'EOF'
import os, sys
start, end, host2 = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def size(path):
    total = count = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name)); count += 1
    return count, total
packs, packs_bytes = size(os.path.join(host2, "packs"))
manifests, _ = size(os.path.join(host2, "manifests"))
print(f"host 2 fetched {packs} packs ({packs_bytes / 2**20:.1f} MiB) and {manifests} manifests from the bucket into its cache")
print(f"resume on host 2 until the guest answered, with an empty cache: {end - start:.2f} s")
EOF
echo "the store, as host 2 sees it:"
"$STASIS" verify --store "$WORK/host2" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  %s packs, %s images, %s blobs, %s checkpoints; problems: %d" % (r.get("packs"), r.get("images"), r.get("blobs"), r.get("checkpoints"), len(r.get("problems", []))))' 
echo
echo "demo complete (work directory: $WORK)"
