#!/usr/bin/env bash
# Kernel cost of a bridge port on a crowded bridge, with and without multicast snooping: adds BASE ports
# (default 900) to a bridge, then times adding and enslaving 100 more, and bringing their far ends up
# (carrier on, the bridge's port state selection). Runs in a network namespace of its own (everything goes
# with it); needs root and iproute2.
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
    exec unshare --net "$0" --inside "${2:-900}"
fi
base="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ip link set lo up
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
for s in 1 0; do
    ip link add "br$s" type bridge mcast_snooping "$s"
    ip link set "br$s" up
    for i in $(seq 1 "$base"); do
        echo "link add h$s-$i type veth peer name p$s-$i"
        echo "link set h$s-$i master br$s up"
        echo "link set p$s-$i up"
    done >"$work/base$s"
    ip -batch "$work/base$s"
done
us() { echo $(( ($2 - $1) / 100000 )); }
for s in 1 0; do
    from=$((base + 1)) to=$((base + 100))
    for i in $(seq "$from" "$to"); do
        echo "link add h$s-$i type veth peer name p$s-$i"
        echo "link set h$s-$i master br$s up"
    done >"$work/add$s"
    for i in $(seq "$from" "$to"); do echo "link set p$s-$i up"; done >"$work/up$s"
    t0=$(date +%s%N); ip -batch "$work/add$s"
    t1=$(date +%s%N); ip -batch "$work/up$s"
    t2=$(date +%s%N)
    echo "mcast_snooping=$s, ports $from-$to: add + enslave $(us "$t0" "$t1") µs per port, far end up $(us "$t1" "$t2") µs per port"
done
