#!/usr/bin/env bash
# Puts a docker CLI on PATH for the docker-CLI test suite, when there is none.
#
# Debian 12 packages the CLI only inside `docker.io`, together with dockerd, containerd and runc, and
# installing that package starts dockerd (which rewrites the host's iptables and takes docker0).
# So the package is only downloaded, never installed: `apt-get download` fetches the .deb, and the one
# binary /usr/bin/docker is extracted from it to /usr/local/bin/docker. No maintainer script runs, no
# daemon or service is installed or started, the firewall is not touched, and nothing else is pulled
# in (the CLI needs only libc). The CLI is Docker 20.10.24's, which negotiates API 1.41 with cnm; the
# suite also passes with current CLIs (28.x, API 1.50).
set -euo pipefail
if command -v docker >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-docker-cli.sh: needs root to write /usr/local/bin/docker" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# apt-get download writes to the current directory as the _apt user; let it.
chmod 755 "$tmp"
chown _apt "$tmp" 2>/dev/null || true
apt-get download -qq docker.io 2>/dev/null || { apt-get update -qq && apt-get download -qq docker.io; }
dpkg-deb --fsys-tarfile docker.io_*.deb | tar -x ./usr/bin/docker
install -m 0755 usr/bin/docker /usr/local/bin/docker
/usr/local/bin/docker --version
