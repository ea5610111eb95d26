#!/usr/bin/env bash
# System packages cnm needs to build, run and test. `--list` prints them; without it, installs the
# missing ones (idempotent) and cargo-nextest if absent.
set -euo pipefail
pkgs=(nftables conntrack python3 iproute2 busybox-static iputils-ping dnsutils curl util-linux dnsmasq-base dnsperf netavark aardvark-dns containernetworking-plugins iperf3)
if [ "${1:-}" = "--list" ]; then
    echo "${pkgs[@]}"
    exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The docker CLI for the docker-CLI tests: Debian's, without dockerd (see the script).
"$(dirname "$0")/install-docker-cli.sh"
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
