#!/usr/bin/env bash
# System packages cnm needs to build, run and test (idempotent).
set -euo pipefail
pkgs=(nftables iproute2 busybox-static iputils-ping dnsutils curl util-linux)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo-nextest >/dev/null 2>&1 && ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
