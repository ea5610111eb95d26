#!/usr/bin/env bash
# cnm against its peers in one run (issue 6): netavark 1.4 (+ aardvark-dns), the CNI reference plugins and
# the kernel floor, all inside namespaces the suite creates (nothing touches the machine's own).
#   scripts/bench-peers.sh           full run (release), writes the tables into docs/performance.md
#   scripts/bench-peers.sh --quick   small sizes (< 2 min), asserts correctness only (CI)
# Needs root. CNM_PEERS_N overrides the scaling scenario's size (default 1000); CNM_PEERS_ONLY=2,6 runs only
# those scenarios; CNM_PEERS_WRITE=0 keeps a full run from writing docs/performance.md and docs/peers-attach.svg;
# CNM_PEERS_CHART=path writes the chart there too. Interrupting (Ctrl-C) unwinds and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "bench-peers: needs root (it creates network namespaces)" >&2
    exit 1
fi
# The peers are in the project's package list; this installs whatever is missing.
./scripts/install-deps.sh
for bin in /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns /usr/lib/cni/bridge \
    /usr/lib/cni/host-local /usr/lib/cni/portmap /usr/lib/cni/firewall; do
    [ -x "$bin" ] || { echo "bench-peers: peer $bin is missing" >&2; exit 1; }
done
# The tools the scenarios drive: DNS load, throughput, namespace entry, HTTP listener and client.
for tool in dnsperf dig iperf3 nsenter busybox curl ping; do
    command -v "$tool" >/dev/null || { echo "bench-peers: $tool is missing" >&2; exit 1; }
done
if [ "${1:-}" = "--quick" ]; then
    export CNM_PEERS_QUICK=1
else
    export CNM_PEERS_WRITE="${CNM_PEERS_WRITE:-1}"
fi
# `cargo bench` builds cnm and the suite in release (the bench profile) and runs it.
exec cargo bench -p cnm --bench peers
