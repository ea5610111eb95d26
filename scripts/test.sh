#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the end-to-end tests against the real kernel. Every kernel
# test builds its own network and mount namespaces; nothing touches the machine's own. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
scripts/bench-peers.sh --quick
exec cargo nextest run --workspace --no-fail-fast "$@"
