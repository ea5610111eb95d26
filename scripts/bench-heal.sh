#!/usr/bin/env bash
# The firewall healer's cost and speed: starts `cnm daemon` (the binary given, default the debug build) in a
# network and mount namespace of its own with one network and one published port, then
#   - heal latency: ROUNDS times each (default 10) `nft flush chain ip cnm nat-PREROUTING`, `nft delete table
#     ip cnm` and `nft flush ruleset`, timing from the tampering command's exit until the rules are back
#     (polled with `nft list`, a few ms per poll: the figures are that coarse);
#   - idle cost: processes the daemon starts in 10 s (`strace -f -e trace=execve`), and its CPU time
#     (own and its reaped children's, from /proc/PID/stat) over IDLE seconds (default 60);
#   - with PUBLISH=N, what a container publishing N translated ports (one map element each) spends in its
#     start's "ports" phase (Server-Timing), ROUNDS times: the kernel's notifications cost shows there.
# Needs root, nft, strace and busybox. Nothing outside the namespace is touched.
#   scripts/bench-heal.sh [CNM_BINARY]   (ROUNDS=…, IDLE=…; LOG_LEVEL=debug KEEP_LOG=FILE to keep the daemon log)
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
    bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/cnm}")
    exec unshare --net --mount --propagation private "$0" --inside "$bin"
fi
bin="$2"
rounds="${ROUNDS:-10}"
idle="${IDLE:-60}"
work=$(mktemp -d)
# A tmpfs of this mount namespace: the daemon's netns mounts under it vanish with the namespace.
mount -t tmpfs bench-heal "$work"
ip link set lo up
echo "nameserver 127.0.0.1" >"$work/resolv.conf"
"$bin" daemon -H "unix://$work/cnm.sock" --data-root "$work/data" --exec-root "$work/exec" \
    --resolv-conf "$work/resolv.conf" ${LOG_LEVEL:+--log-level "$LOG_LEVEL"} 2>"$work/daemon.log" &
daemon=$!
# The container outlives a stopped daemon (live restore): remove it first, then whatever the daemon started
# that is still in this namespace (its shim spawner), by PID.
cleanup() {
    "$bin" rm -f web >/dev/null 2>&1 || true
    kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true
    local me ns p
    me=$(readlink /proc/self/ns/net)
    for p in /proc/[0-9]*; do
        ns=$(readlink "$p/ns/net" 2>/dev/null) || continue
        [ "$ns" = "$me" ] && [ "${p#/proc/}" != $$ ] && [ "${p#/proc/}" != "$BASHPID" ] && kill "${p#/proc/}" 2>/dev/null
    done
    umount -l "$work"; rmdir "$work"
}
trap cleanup EXIT
export CNM_HOST="unix://$work/cnm.sock"
for _ in $(seq 200); do "$bin" network ls -q >/dev/null 2>&1 && break; sleep 0.05; done
"$bin" network create app >/dev/null
mkdir -p "$work/www" && echo ok >"$work/www/index.html"
"$bin" run -d --name web --network app -p 8080:80 -- busybox httpd -f -p 80 -h "$work/www" >/dev/null
sleep 1

now() { date +%s%N; }
# Milliseconds until "$@" succeeds, or "-" after 2 s.
until_back() {
    local t0 t
    t0=$(now)
    while ! "$@" >/dev/null 2>&1; do
        t=$(now)
        if [ $(( (t - t0) / 1000000 )) -ge 2000 ]; then echo "-"; return; fi
    done
    t=$(now)
    echo $(( (t - t0) / 1000000 ))
}
nat_back() { nft list chain ip cnm nat-PREROUTING | grep -q "jump nat-ports"; }
port_back() { nft list table ip cnm | grep -q ". 8080 :"; }
report() {
    local what="$1"; shift
    printf '%s\n' "$@" | sort -n | awk -v what="$what" '
        $1 == "-" { lost++; next }
        { v[n++] = $1; all = all (n == 1 ? "" : " ") $1 }
        END {
            if (n) printf "%-40s median %d ms, max %d ms (%d rounds: %s)", what, v[int((n - 1) / 2)], v[n - 1], n, all
            else printf "%-40s never", what
            if (lost) printf "; not back within 2 s: %d of %d", lost, n + lost
            printf "\n"
        }'
}
for case in "flush chain ip cnm nat-PREROUTING:nat_back" "delete table ip cnm:port_back" "flush ruleset:port_back"; do
    cmd="${case%%:*}" check="${case##*:}"
    times=()
    logged=$(wc -l <"$work/daemon.log")
    for _ in $(seq "$rounds"); do
        nft "$cmd"
        times+=("$(until_back "$check")")
        # Not restored (the old healer only notices a missing table): delete the tables, so it does.
        if [ "${times[-1]}" = "-" ]; then nft flush ruleset; sleep 1; fi
        sleep 0.2
    done
    report "nft $cmd" "${times[@]}"
    # The daemon's own figure where it logs one: from the change's notification to the restoration.
    mapfile -t own < <(tail -n +"$((logged + 1))" "$work/daemon.log" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'after_ms=[0-9]*' | cut -d= -f2)
    [ "${#own[@]}" -gt 0 ] && report "  daemon: notified → restored" "${own[@]}"
done
[ -n "${KEEP_LOG:-}" ] && cp "$work/daemon.log" "$KEEP_LOG"
echo "restorations logged: $(grep -c 'restored \(it\|them\)' "$work/daemon.log" || true)"
grep -m1 'restored \(it\|them\)' "$work/daemon.log" | sed 's/\x1b\[[0-9;]*m//g' || true

if [ -n "${PUBLISH:-}" ]; then
    # Docker's body for `-p 30000-…:40000-…`: one PortBindings key per port.
    {
        printf '{"Cmd":["sleep","100000"],"HostConfig":{"NetworkMode":"app","PortBindings":{'
        for i in $(seq 0 $((PUBLISH - 1))); do
            [ "$i" -gt 0 ] && printf ','
            printf '"%d/tcp":[{"HostIp":"","HostPort":"%d"}]' $((40000 + i)) $((30000 + i))
        done
        printf '}}}'
    } >"$work/publish.json"
    api() { curl -s --unix-socket "$work/cnm.sock" "$@"; }
    phases=()
    for r in $(seq "$rounds"); do
        id=$(api -X POST -H 'Content-Type: application/json' --data-binary @"$work/publish.json" \
            "http://cnm/containers/create?name=pub$r" | sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/')
        phases+=("$(api -D - -o /dev/null -X POST "http://cnm/containers/$id/start" |
            tr -d '\r' | grep -i '^server-timing:' | grep -o 'ports;dur=[0-9]*' | cut -d= -f2)")
        api -X DELETE "http://cnm/containers/$id?force=1" >/dev/null
        sleep 0.3
    done
    report "start's ports phase, $PUBLISH translated" "${phases[@]}"
fi

sleep 2
timeout -s INT 10 strace -f -qq -e trace=execve -o "$work/strace" -p "$daemon" 2>/dev/null || true
# Only the execve that succeeded: a spawn tries every PATH entry before the one holding nft.
echo "processes started by the idle daemon in 10 s: $(grep -c 'execve(.*= 0$' "$work/strace" || true)"
ticks() { awk '{print $14 + $15, $16 + $17}' "/proc/$daemon/stat"; }
read -r own0 kids0 <<<"$(ticks)"
sleep "$idle"
read -r own1 kids1 <<<"$(ticks)"
hz=$(getconf CLK_TCK)
echo "idle CPU over ${idle} s: daemon $(( (own1 - own0) * 1000 / hz )) ms, its children $(( (kids1 - kids0) * 1000 / hz )) ms"
