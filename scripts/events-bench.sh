#!/usr/bin/env bash
# The event stream's cost (issue 8): 1,000 connected stream clients on one server, against none.
#
# For each round: starts `openframe serve` (release build) on a fresh SQLite file, runs a create load
# (TASKS concurrent clients for SECONDS, each create assigned to one of CLIENTS agents in turn) and notes its
# rate and the server's RSS; connects CLIENTS stream clients, each filtered on its own agent (so every create
# reaches exactly one of them, as an agent's workspace would), notes the RSS again, runs the same create load
# and notes its rate. Prints one line per round: creates/s without and with the clients, the slowdown, and
# the server's extra RSS with the clients connected.
#
# Usage: scripts/events-bench.sh   (env: ROUNDS=2 CLIENTS=1000 SECONDS_PER_RUN=20 TASKS=16)
# The load generator runs on the same machine as the server: on a shared machine the figures are noisy.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-1000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
TASKS=${TASKS:-16}
PASSWORD=events-bench-password

cargo build --release --locked -q -p openframe-http --bin openframe --example events_bench
BIN=target/release/openframe
LOAD=target/release/examples/events_bench
# Each stream is a connection on both sides.
ulimit -n "$(ulimit -Hn)"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

work=$(mktemp -d)
server_pid=""
clients_pid=""
cleanup() {
    [ -n "$clients_pid" ] && kill "$clients_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

for round in $(seq 1 "$ROUNDS"); do
    rm -f "$work"/db* "$work"/server.log
    OPENFRAME_ADMIN_PASSWORD=$PASSWORD "$BIN" serve --listen 127.0.0.1:0 --store "sqlite://$work/db" \
        --max-connections $((CLIENTS + TASKS + 64)) 2>"$work/server.log" &
    server_pid=$!
    base=""
    for _ in $(seq 1 100); do
        base=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/server.log")
        [ -n "$base" ] && break
        sleep 0.1
    done
    [ -n "$base" ] || { cat "$work/server.log"; exit 1; }

    # Warm-up: the first sign-in's argon2, the SQLite file's first pages.
    "$LOAD" creates "$base" admin "$PASSWORD" 3 "$TASKS" "$CLIENTS" >/dev/null
    without=$("$LOAD" creates "$base" admin "$PASSWORD" "$SECONDS_PER_RUN" "$TASKS" "$CLIENTS" | awk '{ print $2 }')
    rss_before=$(rss_kib "$server_pid")

    "$LOAD" clients "$base" admin "$PASSWORD" "$CLIENTS" >"$work/clients.out" 2>"$work/clients.err" &
    clients_pid=$!
    for _ in $(seq 1 600); do
        grep -q '^connected' "$work/clients.out" && break
        kill -0 "$clients_pid" 2>/dev/null || { cat "$work/clients.err"; exit 1; }
        sleep 0.1
    done
    grep -q '^connected' "$work/clients.out" || { echo "the clients did not connect"; exit 1; }
    sleep 2
    rss_clients=$(rss_kib "$server_pid")
    with=$("$LOAD" creates "$base" admin "$PASSWORD" "$SECONDS_PER_RUN" "$TASKS" "$CLIENTS" | awk '{ print $2 }')
    rss_after=$(rss_kib "$server_pid")
    sleep 6 # the clients report what they received every 5 s
    received=$(tail -n 1 "$work/clients.err")

    kill "$clients_pid"; wait "$clients_pid" 2>/dev/null || true; clients_pid=""
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

    awk -v r="$round" -v n="$CLIENTS" -v a="$without" -v b="$with" -v r0="$rss_before" -v r1="$rss_clients" \
        -v r2="$rss_after" -v got="$received" 'BEGIN {
        printf "round %d: creates/s without clients %d, with %d clients %d (%+.1f%%); server RSS %.1f MiB before, " \
               "%.1f MiB with the clients connected (+%.1f MiB), %.1f MiB after the load (+%.1f MiB); clients: %s\n",
               r, a, n, b, (b - a) * 100 / a, r0 / 1024, r1 / 1024, (r1 - r0) / 1024, r2 / 1024, (r2 - r0) / 1024, got
    }'
done
echo "events-bench: $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
