#!/usr/bin/env bash
# Installs what is missing, builds cnm, and starts the daemon with its defaults
# (socket /run/cnm/cnm.sock, data-root /var/lib/cnm, exec-root /run/cnm). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release --bin cnm
exec ./target/release/cnm daemon "$@"
