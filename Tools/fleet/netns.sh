#!/usr/bin/env bash
# Simulated hosts on this machine: network namespaces on one bridge.
#
#   Tools/fleet/netns.sh up [N]     bridge stasis0 (10.77.0.1/24) and N namespaces (default 3),
#                                   stasis-h1 … stasis-hN at 10.77.0.11 …; idempotent
#   Tools/fleet/netns.sh down       removes the namespaces and the bridge
#   Tools/fleet/netns.sh address    prints the bridge address (where the services listen)
#
# A namespace isolates the network only: each simulated host also gets a state directory of its
# own from whoever runs it. Run a command on host i with `ip netns exec stasis-hI CMD`. Needs root
# (iproute2); nothing here touches addresses other than its own bridge and veth pairs.
set -euo pipefail
BRIDGE=stasis0
PREFIX=10.77.0
ADDRESS=$PREFIX.1

up() {
    local count="${1:-3}"
    command -v ip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; }
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
        ip addr add "$ADDRESS/24" dev "$BRIDGE"
    fi
    ip link set "$BRIDGE" up
    for ((i = 1; i <= count; i++)); do
        local ns="stasis-h$i" outside="stasis-h${i}o" inside="stasis-h${i}i"
        ip netns list | grep -qw "$ns" || ip netns add "$ns"
        if ! ip link show "$outside" >/dev/null 2>&1; then
            ip link add "$outside" type veth peer name "$inside"
            ip link set "$inside" netns "$ns"
            ip link set "$outside" master "$BRIDGE"
            ip -n "$ns" addr add "$PREFIX.$((10 + i))/24" dev "$inside"
        fi
        ip link set "$outside" up
        ip -n "$ns" link set "$inside" up
        ip -n "$ns" link set lo up
    done
}

down() {
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^stasis-h' || true); do
        ip netns delete "$ns"
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep '^stasis-h.*o@\|^stasis-h[0-9]*o$' | cut -d@ -f1 || true); do
        ip link delete "$link" 2>/dev/null || true
    done
    ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE" || true
}

case "${1:-}" in
    up) up "${2:-3}" ;;
    down) down ;;
    address) echo "$ADDRESS" ;;
    *) echo "usage: Tools/fleet/netns.sh up [N] | down | address" >&2; exit 64 ;;
esac
